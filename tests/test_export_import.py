"""`flask export-org` and `import-org`: an organization moves to an empty database with every row and id intact."""
import json
import shutil
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL
from tests.factories import make_invitation, make_item, make_team, set_status
from tests.test_worker import FakeSender, subscribe
from webapp import create_app
from webapp.clock import now
from webapp.extensions import db
from webapp.models import (
    Digest, Item, ItemEvent, Notification, NotificationPreferences, PendingDigest, PushSubscription, User,
)
from webapp.notifications import worker
from webapp.services import items, team_requests, transfer

RESTORED_DATABASE = f"{make_url(POSTGRES_URL).database}_restored" if POSTGRES_URL else None
# The history is made on a fixed Monday morning (09:00 in Berlin): the digests' quiet hours and
# quiet days must not depend on when the tests run.
HISTORY_STARTS = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def empty_app(request, database_url, tmp_path):
    """A second, empty database of the same kind as `app`'s, with the schema."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'restored.db'}"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "restored.db")
        empty = True
    else:
        server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {RESTORED_DATABASE} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {RESTORED_DATABASE}"))
        server.dispose()
        url = make_url(POSTGRES_URL).set(database=RESTORED_DATABASE).render_as_string(False)
        empty = False
    restored = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url})
    restored.instance_path = str(tmp_path / "restored-instance")
    with restored.app_context():
        if empty:
            for table in reversed(db.metadata.sorted_tables):  # the copied template may hold nothing, but be sure
                db.session.execute(table.delete())
            db.session.commit()
        else:
            db.create_all()
    yield restored
    with restored.app_context():
        db.session.remove()
        db.engine.dispose()
    if not empty:
        server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE {RESTORED_DATABASE} WITH (FORCE)"))
        server.dispose()


@pytest.fixture
def exported_org(app, tmp_path):
    """Two organizations with history of every kind; returns the id of the first and its export file."""
    with time_machine.travel(HISTORY_STARTS), app.app_context():
        team = make_team()
        done = make_item(team.rep, team.manager, "Send the Q3 forecast", priority="high", due_on=None)
        set_status(done, team.rep)
        dropped = make_item(team.rep, title="Call the old lead")
        set_status(dropped, team.rep, "dropped", drop_reason="They went elsewhere")
        moved = make_item(team.junior, team.rep, "Book the trade fair")
        items.update_item(db.session, team.rep, moved.id, ["*"], {"owner_id": team.rep.id, "title": "Book the fair"})
        make_item(team.peer, title="Due soon", due_on=date.today() + timedelta(days=3))
        team_requests.create_request(db.session, team.manager, {
            "title": "Update the CRM", "priority": "normal", "all_reports": True})
        make_invitation(team.manager, email="nia@example.test", name="Nia", manager_id=team.manager.id)
        db.session.add(NotificationPreferences(user_id=team.rep.id, quiet_start="19:00", quiet_end="07:00",
                                               quiet_days=[7], digest_times=["10:00"], push_enabled=True))
        db.session.add(PushSubscription(user_id=team.rep.id, endpoint="https://fcm.googleapis.com/fcm/send/r",
                                        p256dh="device-key", auth="device-secret"))
        make_item(team.outsider, title="Another company's secret")
        db.session.commit()
        # A few days of digests go out; one line is read in the app; then news waits for the next digest.
        worker.tick(db.session, FakeSender(), "test", at=now() + timedelta(days=3))
        first = db.session.scalar(select(Notification).where(Notification.user_id == team.rep.id))
        first.read_at = now()
        make_item(team.rep, team.manager, "Call Bosch back")
        db.session.commit()
        org_id = team.org.id
    path = tmp_path / "org.json"
    result = app.test_cli_runner().invoke(args=["export-org", str(org_id), "--output", str(path)])
    assert result.exit_code == 0, result.output
    return org_id, path


def _without_time_of_export(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "exported_at"}


def test_round_trip_keeps_every_row_and_id(app, empty_app, exported_org):
    org_id, path = exported_org

    result = empty_app.test_cli_runner().invoke(args=["import-org", str(path)])

    assert result.exit_code == 0, result.output
    with app.app_context():
        original = transfer.export_organization(db.session, org_id)
        original_items = [(i.id, i.title, i.status, i.owner_id, i.version) for i in db.session.scalars(
            select(Item).where(Item.organization_id == org_id).order_by(Item.id))]
    with empty_app.app_context():
        restored = transfer.export_organization(db.session, org_id)
        restored_items = [(i.id, i.title, i.status, i.owner_id, i.version) for i in db.session.scalars(
            select(Item).order_by(Item.id))]
        events = db.session.scalar(select(func.count()).select_from(ItemEvent))
        assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0
    assert _without_time_of_export(restored) == _without_time_of_export(original)
    assert restored_items == original_items and len(restored_items) == 7  # 5, and the request's to Rita and Pat
    assert events == len(original["tables"]["item_events"]) > len(restored_items)
    assert "Another company's secret" not in path.read_text()
    assert "device-key" not in path.read_text()


def test_the_inbox_and_the_digests_move_and_only_news_still_waiting_is_pushed(empty_app, exported_org):
    org_id, path = exported_org
    tables = json.loads(path.read_text())["tables"]
    assert tables["digests"] and tables["pending_digests"]
    assert empty_app.test_cli_runner().invoke(args=["import-org", str(path)]).exit_code == 0

    with empty_app.app_context():
        rep = db.session.scalar(select(User).where(User.name == "Rita Rep"))
        inbox = db.session.scalars(select(Notification).where(Notification.user_id == rep.id)).all()
        assert len(inbox) == len([n for n in tables["notifications"] if n["user_id"] == rep.id]) > 1
        assert sum(n.read_at is not None for n in inbox) == 1
        assert db.session.scalar(select(func.count()).select_from(Digest)) == len(tables["digests"])
        assert db.session.get(PendingDigest, rep.id) is not None
        subscribe(rep)  # the phone posts its subscription again on its first visit to the new server
        db.session.commit()
        sender = FakeSender()

        worker.tick(db.session, sender, "test", at=HISTORY_STARTS + timedelta(days=4))  # Friday, 09:00 in Berlin

        pushed_to_rita = [m for m in sender.sent if m["endpoint"].endswith(f"/{rep.id}-phone")]
        assert len(pushed_to_rita) == 1
        assert [line["title"] for line in pushed_to_rita[0]["payload"]["items"]] == ["Call Bosch back"]


def test_after_an_import_new_rows_get_fresh_ids(empty_app, exported_org):
    org_id, path = exported_org
    assert empty_app.test_cli_runner().invoke(args=["import-org", str(path)]).exit_code == 0
    highest = max(row["id"] for row in json.loads(path.read_text())["tables"]["items"])

    with empty_app.app_context():
        rep = db.session.scalar(select(User).where(User.name == "Rita Rep"))
        item = make_item(rep, title="First item on the new server")
        db.session.commit()

        assert item.id == highest + 1
        assert [e.action for e in items.history(db.session, rep, item.id)] == ["created"]


def test_import_refuses_a_database_that_is_not_empty(app, exported_org):
    _org_id, path = exported_org

    result = app.test_cli_runner().invoke(args=["import-org", str(path)])

    assert result.exit_code == 1
    assert "The database is not empty" in result.output


def test_export_of_an_unknown_organization_says_so(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["export-org", "999", "--output", str(tmp_path / "x.json")])

    assert result.exit_code == 1
    assert "There is no organization 999." in result.output
    assert not (tmp_path / "x.json").exists()

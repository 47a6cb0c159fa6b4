"""The dispatcher's batch writes (webapp/notifications/bulk.py) must store exactly what an ordinary
INSERT or UPDATE would: instants in UTC, JSON as given, NULLs, text with quotes and backslashes."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tests.factories import make_item
from webapp.extensions import db
from webapp.models import Delivery, DeliveryAttempt, Digest, Notification
from webapp.notifications import bulk

AT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)  # the hour Europe's clocks jump: no local time involved
PAYLOAD = {"events": [{"title": 'Say "yes" to C:\\Users\\ünïcode 🍽', "due_on": None, "urgent": True}],
           "today": "2026-03-29"}


def test_inserted_rows_read_back_as_written(team):
    rows = [{"user_id": team.rep.id, "created_at": AT, "urgent": True, "kind": "digest", "ttl": 3600,
             "payload": PAYLOAD, "line_count": 1},
            {"user_id": team.boss.id, "created_at": AT + timedelta(days=200), "urgent": False, "kind": "digest",
             "ttl": 86400, "payload": {"events": []}, "line_count": 0}]
    bulk.insert_rows(db.session, Digest.__table__, rows)
    db.session.commit()

    stored = db.session.scalars(select(Digest).order_by(Digest.id)).all()
    assert [(d.user_id, d.created_at, d.urgent, d.ttl, d.payload, d.line_count) for d in stored] == [
        (team.rep.id, AT, True, 3600, PAYLOAD, 1),
        (team.boss.id, AT + timedelta(days=200), False, 86400, {"events": []}, 0)]


def test_nulls_and_text_survive_a_batch_insert(team):
    digest = Digest(user_id=team.rep.id, kind="digest", urgent=False, created_at=AT, ttl=60, payload={}, line_count=0)
    db.session.add(digest)
    db.session.flush()
    delivery = Delivery(digest_id=digest.id, attempts=1, next_attempt_at=AT)
    db.session.add(delivery)
    db.session.flush()
    bulk.insert_rows(db.session, DeliveryAttempt.__table__, [
        {"delivery_id": delivery.id, "at": AT, "status_code": None, "outcome": "retry",
         "detail": "unreachable: \\ 'x'"},
        {"delivery_id": delivery.id, "at": AT, "status_code": 201, "outcome": "delivered", "detail": None}])
    db.session.commit()

    attempts = db.session.execute(select(DeliveryAttempt.status_code, DeliveryAttempt.outcome, DeliveryAttempt.detail,
                                         DeliveryAttempt.at).order_by(DeliveryAttempt.id)).all()
    assert attempts == [(None, "retry", "unreachable: \\ 'x'", AT), (201, "delivered", None, AT)]


def test_batch_update_changes_only_the_rows_named(team):
    for title in ("First", "Second", "Third"):
        make_item(team.rep, team.manager, title=title)  # each tells the rep: one notification
    db.session.commit()
    notes = db.session.scalars(select(Notification).where(Notification.user_id == team.rep.id)
                               .order_by(Notification.id)).all()
    assert len(notes) == 3
    digest = Digest(user_id=team.rep.id, kind="digest", urgent=False, created_at=AT, ttl=60, payload={}, line_count=2)
    db.session.add(digest)
    db.session.flush()

    bulk.update_rows(db.session, Notification.__table__, "id",
                     [{"id": notes[0].id, "digest_id": digest.id}, {"id": notes[2].id, "digest_id": digest.id}])
    db.session.commit()
    db.session.expire_all()

    assert [n.digest_id for n in db.session.scalars(select(Notification).where(Notification.user_id == team.rep.id)
                                                    .order_by(Notification.id))] == [digest.id, None, digest.id]


def test_in_ids_matches_exactly_the_ids_given(team):
    others = db.session.scalars(select(Notification.id)).all()
    make_item(team.rep, team.manager, title="Only this one")
    db.session.commit()
    mine = db.session.scalars(select(Notification.id).where(Notification.id.not_in(others))).all()
    assert len(mine) == 1
    db.session.execute(update(Notification).where(bulk.in_ids(db.session, Notification.id, mine)).values(read_at=AT),
                       execution_options={"synchronize_session": False})
    db.session.commit()

    read = db.session.scalars(select(Notification.id).where(Notification.read_at.is_not(None))).all()
    assert read == mine
    assert db.session.scalars(select(Notification.id).where(bulk.in_ids(db.session, Notification.id, []))).all() == []

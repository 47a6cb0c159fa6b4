"""Callers remembered per worker on PostgreSQL (webapp/auth/caller_cache.py).

A remembered caller must never hide a change for long: someone else's within the trust window, a
person's own at once, whichever worker serves the next read, and none at all once the listener is gone.
"""
import time

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import ApiClient, Auth
from tests.factories import make_item, make_team
from webapp import create_app
from webapp.auth import caller as caller_module
from webapp.auth import caller_cache
from webapp.auth.caller_cache import TRUST_SECONDS, cache_for
from webapp.extensions import db
from webapp.models import User
from webapp.models.people import CALLER_COLUMNS, USERS_CHANNEL


@pytest.fixture
def app_config():
    return {"PLATE_CALLER_CACHE": True}


@pytest.fixture
def team(ctx):
    team = make_team()
    make_item(team.rep, title="Call Siemens")
    db.session.commit()
    return team


@pytest.fixture
def postgresql(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite callers are always read (test_sqlite_reads_every_caller)")


def wait_until(predicate, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("not within %.1f s" % seconds)
        time.sleep(0.02)
    return result


def listening(app):
    with app.app_context():
        cache = cache_for(db.engine)
    wait_until(lambda: cache.listening)
    return cache


@pytest.fixture
def caller_reads(monkeypatch):
    """How many times callers were read from the database."""
    reads = []
    first = caller_module._CALLER.first

    def counted(engine, **params):
        reads.append(params["user_id"])
        return first(engine, **params)

    monkeypatch.setattr(caller_module._CALLER, "first", counted)
    return reads


def test_sqlite_reads_every_caller(app, client, auth, team, database_url, caller_reads):
    if not database_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL side is every other test here")
    assert app.config["PLATE_CALLER_CACHE"] is False
    rep = auth.login(team.rep)
    for _ in range(3):
        assert rep.get("/api/v1/me").status_code == 200
    assert len(caller_reads) == 3


def test_a_remembered_caller_serves_reads_without_a_query(app, client, auth, team, postgresql, caller_reads):
    listening(app)
    rep = auth.login(team.rep)
    for _ in range(3):
        assert rep.get(f"/api/v1/people/{team.rep.id}/plate").status_code == 200
    assert caller_reads == [team.rep.id]
    assert rep.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Quote for Bosch"}).status_code == 201
    assert caller_reads == [team.rep.id, team.rep.id]  # a write always checks its caller


def test_a_password_changed_elsewhere_logs_this_device_out_within_the_trust_window(app, client, auth, team,
                                                                                   postgresql):
    listening(app)
    phone = auth.login(team.rep)
    assert phone.get("/api/v1/me").status_code == 200

    changed = time.monotonic()
    db.session.execute(text("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = :id"), {"id": team.rep.id})
    db.session.commit()

    wait_until(lambda: phone.get("/api/v1/me").status_code == 401, seconds=TRUST_SECONDS + 1)
    assert time.monotonic() - changed < TRUST_SECONDS + 1


def test_an_item_a_manager_adds_reaches_the_reports_next_reads(app, client, auth, team, postgresql):
    listening(app)
    rep = auth.login(team.rep)
    assert [i["title"] for i in rep.get(f"/api/v1/people/{team.rep.id}/plate").json["items"]] == ["Call Siemens"]
    manager = Auth(app.test_client()).login(team.manager)
    assert manager.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Forecast for finance"},
                        headers={"X-CSRF-Token": f"csrf-{team.manager.id}"}).status_code == 201

    wait_until(lambda: len(rep.get(f"/api/v1/people/{team.rep.id}/plate").json["items"]) == 2,
               seconds=TRUST_SECONDS + 1)


def test_your_own_change_shows_at_once_on_another_worker(app, client, auth, team, postgresql):
    """Two apps on one database are two workers; the second one's listener is made deaf, so only the
    session's word that it just wrote keeps its next read current."""
    other_worker = create_app({**app.config, "TESTING": True})
    other_worker.test_client_class = ApiClient
    listening(app)
    deaf = listening(other_worker)
    deaf._heard = lambda notify, own_pid: notify.payload == "sync" and notify.pid == own_pid
    try:
        rep = auth.login(team.rep)
        there = other_worker.test_client()
        there.set_cookie("session", rep.get_cookie("session").value)
        plate = f"/api/v1/people/{team.rep.id}/plate"
        assert len(there.get(plate).json["items"]) == 1  # that worker remembers the caller and the plate

        assert rep.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Quote for Bosch"}).status_code == 201
        stale = there.get(plate)
        there.set_cookie("session", rep.get_cookie("session").value)  # the cookie the write answered with
        fresh = there.get(plate)

        assert len(stale.json["items"]) == 1  # without the session's word, the deaf worker cannot know
        assert [i["title"] for i in fresh.json["items"]] == ["Call Siemens", "Quote for Bosch"]
    finally:
        with other_worker.app_context():
            db.engine.dispose()


def test_without_its_listener_a_worker_reads_callers_from_the_database(app, client, auth, team, postgresql,
                                                                       database_url):
    cache = listening(app)
    rep = auth.login(team.rep)
    assert rep.get("/api/v1/me").status_code == 200
    db.session.close()

    with psycopg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False),
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        admin.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = %s", (team.rep.id,))

    wait_until(lambda: rep.get("/api/v1/me").status_code == 401, seconds=TRUST_SECONDS + 1)
    wait_until(lambda: cache.listening)  # and it listens again
    again = Auth(app.test_client()).login(db.session.get(User, team.rep.id))
    assert again.get("/api/v1/me").status_code == 200


def test_every_caller_field_is_announced_and_nothing_else(app, team, postgresql, database_url):
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url, autocommit=True) as writer:
        listener.execute(f"LISTEN {USERS_CHANNEL}")
        changes = {"organization_id": "organization_id", "manager_id": "NULL", "is_admin": "NOT is_admin",
                   "session_epoch": "session_epoch + 1", "time_zone": "'Asia/Kolkata'",
                   "plate_version": "plate_version + 1"}
        assert set(changes) == set(CALLER_COLUMNS)
        for column, value in changes.items():
            writer.execute(f"UPDATE users SET {column} = {value} WHERE id = %s", (team.rep.id,))
            heard = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]
            assert heard == [str(team.rep.id)], column

        writer.execute("UPDATE users SET name = 'Renamed Rep' WHERE id = %s", (team.rep.id,))
        assert [n.payload for n in listener.notifies(timeout=0.3)] == []


def test_a_listener_that_does_not_hear_its_own_notification_is_never_trusted(app, client, auth, team, postgresql,
                                                                            monkeypatch, caller_reads):
    """Behind a transaction-pooling proxy LISTEN does not work: the barrier's own notification never comes back."""
    monkeypatch.setattr(caller_cache, "BARRIER", "SELECT 1")
    with app.app_context():
        cache = cache_for(db.engine)
    rep = auth.login(team.rep)
    for _ in range(5):
        assert rep.get("/api/v1/me").status_code == 200
        time.sleep(0.2)
    assert not cache.listening and len(caller_reads) == 5

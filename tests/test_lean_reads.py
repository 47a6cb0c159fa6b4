"""Who is calling and whose plate it is are read on a connection of their own (webapp/lean.py): it must never
show an old answer or fail because the database went away and came back."""
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Auth
from tests.factories import PASSWORD, make_item, make_team, make_user
from webapp.extensions import db
from webapp.lean import _connections


@pytest.fixture
def team(ctx):
    team = make_team()
    make_item(team.rep, title="Call Siemens")
    db.session.commit()
    return team


def test_reads_go_on_after_the_database_server_dropped_every_connection(client, auth, team, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that drops connections is PostgreSQL's case; SQLite is a file")
    boss, rep_id = auth.login(team.boss), team.rep.id
    assert boss.get(f"/api/v1/people/{rep_id}/plate").status_code == 200
    lean = _connections(db.engine)  # a busy server has several idle lean connections: all get cut
    taken = [lean.take() for _ in range(3)]
    for held, generation in taken:
        lean.give_back(held, generation)
    db.session.close()  # the test's own connection would be cut too

    admin = create_engine(database_url.split("?")[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    admin.dispose()

    assert boss.get("/api/v1/me").status_code == 200
    plate = boss.get(f"/api/v1/people/{rep_id}/plate")
    assert plate.status_code == 200 and [i["title"] for i in plate.json["items"]] == ["Call Siemens"]


def test_moving_someone_to_another_manager_changes_who_sees_their_plate_at_once(app, client, auth, team):
    nora = make_user(team.org, "Nora New", team.boss)
    db.session.commit()
    old_manager = auth.login(team.manager)
    new_manager = Auth(app.test_client()).login(nora)
    assert old_manager.get(f"/api/v1/people/{team.rep.id}/plate").status_code == 200
    assert new_manager.get(f"/api/v1/people/{team.rep.id}/plate").status_code == 403

    team.rep.manager_id = nora.id
    db.session.commit()

    assert old_manager.get(f"/api/v1/people/{team.rep.id}/plate").status_code == 403
    assert new_manager.get(f"/api/v1/people/{team.rep.id}/plate").status_code == 200
    assert new_manager.get(f"/api/v1/people/{team.junior.id}/plate").status_code == 200  # skip-level too


def test_reads_go_on_after_the_engine_is_disposed(client, auth, team):
    client, rep_id = auth.login(team.rep), team.rep.id
    assert client.get("/api/v1/me").status_code == 200
    db.session.close()

    db.engine.dispose()

    assert client.get("/api/v1/me").status_code == 200
    assert client.get(f"/api/v1/people/{rep_id}/plate").json["items"][0]["title"] == "Call Siemens"


def test_a_password_changed_elsewhere_logs_this_device_out_on_its_next_read(client, auth, team, app):
    phone = auth.login(team.rep)
    assert phone.get(f"/api/v1/people/{team.rep.id}/plate").status_code == 200

    laptop = app.test_client()
    token = laptop.post("/api/v1/session", json={"email": team.rep.email, "password": PASSWORD}).json["csrf_token"]
    assert laptop.patch("/api/v1/me", json={"password": "a brand new passphrase", "current_password": PASSWORD},
                        headers={"X-CSRF-Token": token}).status_code == 200

    assert phone.get(f"/api/v1/people/{team.rep.id}/plate").status_code == 401


def test_a_lean_read_leaves_no_sqlite_snapshot_open(client, auth, team, database_url):
    """Lean connections keep their cursor between reads; on SQLite an unfinished one would pin the
    write-ahead log (no checkpoint could truncate it) and grow it without end."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the write-ahead log and its checkpoints are SQLite's")
    assert auth.login(team.rep).get(f"/api/v1/people/{team.rep.id}/plate").status_code == 200
    team.rep.name = "Rita Renamed"  # something in the log to check point
    db.session.commit()
    busy, _log_frames, _checkpointed = db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    assert busy == 0

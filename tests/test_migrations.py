"""`flask db upgrade` builds exactly the schema the models describe, and keeps every row of the previous release."""
import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from tests.conftest import BACKENDS, POSTGRES_URL, ApiClient, Auth
from webapp import create_app
from webapp.extensions import db
from webapp.models import User
from webapp.services.transfer import restart_id_sequences

SCHEMA = "migration_check"  # PostgreSQL: a schema of its own inside the test database, dropped afterwards


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    request.getfixturevalue("postgres_schema")  # fails, never skips, when PostgreSQL is unreachable
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    yield make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={SCHEMA}"}).render_as_string(False)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    engine.dispose()


@pytest.fixture
def migrated_app(empty_database_url):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        flask_migrate.upgrade()
        yield app
        db.engine.dispose()


def test_upgrade_builds_exactly_the_models_schema(migrated_app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, db.metadata)

    assert differences == []


def test_upgrade_creates_every_table_and_records_the_head_revision(migrated_app):
    tables = set(inspect(db.engine).get_table_names())

    assert tables == {*db.metadata.tables, "alembic_version"}
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    from alembic.script import ScriptDirectory
    heads = ScriptDirectory.from_config(migrated_app.extensions["migrate"].migrate.get_config()).get_heads()
    assert [version] == heads


PREVIOUS_RELEASE = "0003_notifications"
T0 = datetime(2026, 3, 2, 9, 0)  # naive UTC, as stored
# One or more rows in every table of the previous release, written as plain SQL would, with every column set.
PREVIOUS_ROWS = {
    "organizations": [{"id": 1, "name": "Northwind", "created_at": T0}],
    "users": [
        {"id": 1, "organization_id": 1, "name": "Dana", "email": "dana@example.test", "password_hash": "scrypt:x",
         "time_zone": "Europe/London", "manager_id": None, "is_admin": True, "session_epoch": 2, "created_at": T0,
         "plate_version": 7},
        {"id": 2, "organization_id": 1, "name": "Ravi", "email": "ravi@example.test", "password_hash": "scrypt:y",
         "time_zone": "Asia/Kolkata", "manager_id": 1, "is_admin": False, "session_epoch": 0, "created_at": T0,
         "plate_version": 3},
    ],
    "invitations": [{"id": 1, "organization_id": 1, "email": "sam@example.test", "name": "Sam", "manager_id": 1,
                     "is_admin": False, "invited_by_id": 1, "token_hash": "a" * 64, "created_at": T0,
                     "expires_at": T0 + timedelta(days=7), "accepted_at": None, "accepted_user_id": None}],
    "idempotent_requests": [{"id": 1, "user_id": 1, "key": "k-1", "fingerprint": "f" * 64, "status_code": 201,
                             "body": '{"id": 1}', "headers": {"Location": "/api/v1/items/1"}, "created_at": T0}],
    "items": [
        {"id": 1, "organization_id": 1, "owner_id": 2, "created_by_id": 1, "title": "Update the pipeline",
         "notes": "for finance", "priority": "high", "urgent": True, "due_on": date(2026, 3, 4), "status": "open",
         "drop_reason": None, "position": 1024.0, "version": 3, "created_at": T0, "updated_at": T0,
         "completed_at": None, "dropped_at": None},
        {"id": 2, "organization_id": 1, "owner_id": 2, "created_by_id": 2, "title": "Old lead", "notes": "",
         "priority": "low", "urgent": False, "due_on": None, "status": "dropped", "drop_reason": "Went elsewhere",
         "position": 2048.0, "version": 2, "created_at": T0, "updated_at": T0, "completed_at": None,
         "dropped_at": T0 + timedelta(hours=1)},
    ],
    "item_events": [{"id": 1, "item_id": 1, "actor_id": 1, "at": T0, "action": "created",
                     "changes": {"title": [None, "Update the pipeline"]}}],
    "dispatcher_heartbeats": [{"name": "cli", "beat_at": T0}],
    "notification_preferences": [{"user_id": 2, "quiet_start": "19:00", "quiet_end": "07:30", "quiet_days": [7],
                                  "digest_times": ["10:00"], "push_enabled": True}],
    "push_subscriptions": [{"id": 1, "user_id": 2, "endpoint": "https://fcm.googleapis.com/fcm/send/r1",
                            "p256dh": "BKey", "auth": "secret", "created_at": T0, "updated_at": T0}],
    "digests": [{"id": 1, "user_id": 2, "created_at": T0, "urgent": False, "kind": "digest", "line_count": 1,
                 "payload": {"title": "Plate", "body": "1 new"}, "ttl": 3600}],
    "pending_digests": [{"user_id": 2, "due_at": T0, "pending_since": T0, "urgent": True}],
    "deliveries": [{"id": 1, "digest_id": 1, "subscription_id": 1, "status": "delivered", "attempts": 1,
                    "next_attempt_at": T0, "delivered_at": T0, "max_items": None}],
    "delivery_attempts": [{"id": 1, "delivery_id": 1, "at": T0, "status_code": 201, "outcome": "delivered",
                           "detail": None}],
    "notifications": [{"id": 1, "user_id": 2, "item_id": 1, "actor_id": 1, "kind": "added", "urgent": True,
                       "created_at": T0, "read_at": None, "digest_id": 1}],
    "due_reminders": [{"item_id": 1, "user_id": 2, "remind_at": T0}],
}


# What the migrations since the previous release deliberately change in its rows: table -> (columns that
# go, columns that come with the value each row must then hold).
CONVERTED = {
    # 0005: an idempotency key is kept only as its SHA-256, and still finds its request.
    "idempotent_requests": ({"key"}, {"key_hash": hashlib.sha256(b"k-1").hexdigest()}),
}


def _tables(engine) -> dict:
    metadata = MetaData()
    metadata.reflect(engine)
    return {name: table for name, table in metadata.tables.items() if name != "alembic_version"}


def _rows(engine, table) -> list[dict]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]


def test_upgrade_from_the_previous_release_keeps_every_row(empty_database_url):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        flask_migrate.upgrade(revision=PREVIOUS_RELEASE)
        engine = db.engine
        old_tables = _tables(engine)
        assert set(PREVIOUS_ROWS) == set(old_tables), "every table of the previous release needs rows here"
        with engine.begin() as connection:
            for name in PREVIOUS_ROWS:  # in dependency order
                table = old_tables[name]
                assert {c.name for c in table.columns} == set(PREVIOUS_ROWS[name][0]), f"set every column of {name}"
                connection.execute(table.insert(), PREVIOUS_ROWS[name])

        flask_migrate.upgrade()

        new_tables = _tables(engine)
        for name, expected_rows in PREVIOUS_ROWS.items():
            table = new_tables[name]
            gone, converted = CONVERTED.get(name, (set(), {}))
            assert gone.isdisjoint(c.name for c in table.columns), (name, gone)
            added = [c for c in table.columns if c.name not in old_tables[name].columns and c.name not in converted]
            for row, expected in zip(_rows(engine, table), expected_rows, strict=True):
                expected = {**{k: v for k, v in expected.items() if k not in gone}, **converted}
                assert {k: row[k] for k in expected} == expected, name
                for column in added:  # a new column holds its default (or nothing) in rows that existed before
                    default = column.server_default.arg.text.strip("'") if column.server_default is not None else None
                    assert row[column.name] == (None if default is None else type(row[column.name])(default)), \
                        (name, column.name)
        assert _rows(engine, new_tables["organizations"])[0]["review_after_days"] == 14
        assert {k: _rows(engine, new_tables["items"])[0][k] for k in ("team_request_id", "kept_at", "drop_kind")} \
            == {"team_request_id": None, "kept_at": None, "drop_kind": None}
        engine.dispose()


def test_a_request_remembered_before_the_upgrade_still_replays_its_answer(empty_database_url):
    """A retry that arrives just after the upgrade finds the request the previous release remembered."""
    body = {"owner_id": 2, "title": "Update the pipeline"}
    remembered = {
        "user_id": 1, "key": "4d1f-retry-me",
        # the previous release's fingerprint of the request: SHA-256 of [method, path, body] as canonical JSON
        "fingerprint": hashlib.sha256(json.dumps(["POST", "/api/v1/items", body], sort_keys=True,
                                                 separators=(",", ":")).encode()).hexdigest(),
        "status_code": 201, "body": '{"id": 1, "title": "Update the pipeline"}',
        "headers": {"Location": "/api/v1/items/1", "ETag": '"3"', "Content-Type": "application/json"},
        "created_at": datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1),
    }
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": empty_database_url})
    app.test_client_class = ApiClient
    with app.app_context():
        flask_migrate.upgrade(revision=PREVIOUS_RELEASE)
        old_tables = _tables(db.engine)
        with db.engine.begin() as connection:
            for name in ("organizations", "users", "items"):
                connection.execute(old_tables[name].insert(), PREVIOUS_ROWS[name])
            connection.execute(old_tables["idempotent_requests"].insert(), [remembered])

        flask_migrate.upgrade()
        restart_id_sequences(db.session)  # PostgreSQL: the rows above were written with their ids
        db.session.commit()

        client = Auth(app.test_client()).login(db.session.get(User, 1))
        retried = client.post("/api/v1/items", json=body, headers={"Idempotency-Key": "4d1f-retry-me"})
        other = client.post("/api/v1/items", json=body, headers={"Idempotency-Key": "4d1f-another"})
        items = _rows(db.engine, _tables(db.engine)["items"])
        db.session.remove()
        db.engine.dispose()

    assert retried.status_code == 201
    assert retried.json == {"id": 1, "title": "Update the pipeline"}
    assert (retried.headers["Location"], retried.headers["Idempotent-Replayed"]) == ("/api/v1/items/1", "true")
    assert other.status_code == 201 and other.json["id"] == 3
    assert [item["id"] for item in items] == [1, 2, 3]

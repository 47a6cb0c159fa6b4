"""A fresh app per test, on SQLite and (with TEST_DATABASE_URL) on PostgreSQL too."""
import contextvars
import os
import shutil
import sqlite3
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from tests.factories import PASSWORD_METHOD
from webapp import create_app
from webapp.extensions import db
from webapp.models import User



def _database_of_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets its own PostgreSQL database (`test_gw0`, ...), created on demand."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None or worker is None:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if not connection.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).scalar():
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError:
        return url  # unreachable: postgres_schema fails the run with a clear message
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(False)


# The longest tests, run first: under pytest-xdist a long test dealt out last keeps one worker busy
# while the others have nothing left to do.
LONGEST_FIRST = (
    "tests/test_openapi_fuzz.py::test_operation_survives_fuzzing",
    "tests/test_dispatcher_kill.py",
    "tests/test_sqlite_workers.py",
    "tests/browser/",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        return next((n for n, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
                    len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: otherwise in file order


POSTGRES_URL = _database_of_this_worker(os.environ.get("TEST_DATABASE_URL"))
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def postgres_schema():
    """Create the schema once per run; every test then starts from empty tables."""
    engine = create_engine(POSTGRES_URL)
    try:
        engine.connect().close()
    except OperationalError as error:  # fail, never skip: TEST_DATABASE_URL says PostgreSQL is wanted
        pytest.fail(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {error}")
    app = create_app({"SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": POSTGRES_URL})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    engine.dispose()
    # Tests need no durability: commits need not wait for the server to flush its log.
    return make_url(POSTGRES_URL).update_query_dict({"options": "-csynchronous_commit=off"}).render_as_string(False)


def _empty_tables(app) -> None:
    """Empty every table and restart its ids in one round trip (DELETE: TRUNCATE is slow on tables this small)."""
    tables = list(reversed(db.metadata.sorted_tables))
    script = [f'DELETE FROM "{table.name}"' for table in tables]
    script += [f'ALTER SEQUENCE "{table.name}_id_seq" RESTART' for table in tables
               if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement in (True, "auto")]
    with app.app_context():
        with db.engine.begin() as connection:
            connection.exec_driver_sql("; ".join(script))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """An SQLite file with the schema, built once: copying it is much faster than CREATE TABLE per test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "plate.db"
    app = create_app({"SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        db.create_all()
        db.engine.dispose()  # closing the last connection folds the write-ahead log into the file
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "plate.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_schema")


@pytest.fixture
def app_config() -> dict:
    """Extra configuration for the `app` of a test module: override this fixture there."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Tests log in and sign up far more often than people do; tests/test_rate_limits.py turns them on.
        "PLATE_RATELIMIT_ENABLED": False,
        # Pushes are sent from the test's own process (tests/test_push_delivery.py tries worker processes).
        "PLATE_PUSH_PROCESSES": 0,
        "PLATE_PASSWORD_HASH": PASSWORD_METHOD,
        # Tests change people behind the app's back and read at once; tests/test_caller_cache.py turns it on.
        "PLATE_CALLER_CACHE": False,
        **app_config,
    })
    app.instance_path = str(tmp_path / "instance")
    if not database_url.startswith("sqlite"):  # SQLite starts from a fresh copy of the template
        _empty_tables(app)
    yield app
    for name in ("plate_push_sender", "plate_dispatch_sender"):
        if sender := app.extensions.get(name):
            sender.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An application context for arranging data with factories; commit with db.session.commit()."""
    with app.app_context():
        yield


@pytest.fixture
def team(ctx):
    """make_team()'s reporting line, committed (a test module may define its own `team` instead)."""
    from tests.factories import make_team

    team = make_team()
    db.session.commit()
    return team


class ApiClient(FlaskClient):
    """A test client that speaks JSON and sends the session's CSRF token on unsafe requests."""

    csrf_token: str | None = None

    def open(self, *args, **kwargs):
        method = kwargs.get("method", "GET").upper()
        headers = dict(kwargs.pop("headers", None) or {})
        if method in {"POST", "PUT", "PATCH", "DELETE"} and self.csrf_token and "X-CSRF-Token" not in headers:
            headers["X-CSRF-Token"] = self.csrf_token
        headers = {k: v for k, v in headers.items() if v is not None}
        # Run the request outside any app context the test holds, with its own session, as in production.
        return contextvars.Context().run(super().open, *args, headers=headers, **kwargs)


@dataclass
class Auth:
    """Log a test client in as a person without going through the (deliberately slow) password hash."""

    client: ApiClient

    def login(self, user: User) -> ApiClient:
        with self.client.session_transaction() as session:
            session.clear()
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session["csrf_token"] = f"csrf-{user.id}"
        self.client.csrf_token = f"csrf-{user.id}"
        return self.client

    def logout(self) -> None:
        with self.client.session_transaction() as session:
            session.clear()
        self.client.csrf_token = None


@pytest.fixture
def client(app) -> ApiClient:
    app.test_client_class = ApiClient
    return app.test_client()


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, connection_record) -> None:
    """Tests need no durability: SQLite need not fsync on every commit."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")

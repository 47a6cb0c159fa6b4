"""A fresh app per test, on SQLite and (with TEST_DATABASE_URL) on PostgreSQL too."""
import contextvars
import os
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from webapp import create_app
from webapp.extensions import db
from webapp.models import User

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
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
    return POSTGRES_URL


def _truncate_all(app) -> None:
    with app.app_context():
        tables = ", ".join(table.name for table in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.session.remove()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'plate.db'}"
    return request.getfixturevalue("postgres_schema")


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url,
    })
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        else:
            _truncate_all(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An application context for arranging data with factories; commit with db.session.commit()."""
    with app.app_context():
        yield


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

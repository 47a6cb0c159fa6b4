"""Plate: shared, prioritized plates between people and their managers."""
from inspect import CO_COROUTINE
from pathlib import Path
from types import FunctionType

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapp.config import load_config

MIGRATIONS = Path(__file__).parent / "migrations"


class Plate(Flask):
    """Flask, with a quicker answer to "is this hook async?" for plain functions.

    Flask asks `ensure_sync` of every hook and view on every request (ten times for a plate read);
    inspect.iscoroutinefunction unwraps and checks each one in Python. A plain function is async
    only if its code says so or inspect.markcoroutinefunction marked it; anything else goes to Flask.
    """

    def ensure_sync(self, func):
        if type(func) is FunctionType and not func.__code__.co_flags & CO_COROUTINE \
                and not hasattr(func, "_is_coroutine_marker"):
            return func
        return super().ensure_sync(func)


def create_app(test_config: dict | None = None) -> Flask:
    app = Plate(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path, secret_key=(test_config or {}).get("SECRET_KEY")))
    if test_config:
        app.config.from_mapping(test_config)
    register_logging(app)
    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_commands(app)
    start_background_work(app)
    return app


def register_logging(app: Flask) -> None:
    """First, so every request has its id before any other hook can fail it."""
    from webapp import logs

    logs.init_app(app)


def register_extensions(app: Flask) -> None:
    from webapp.auth import guard
    from webapp.extensions import api, db, login_manager, migrate

    # A liveness ping per pool checkout where the server can go away under us (not SQLite's file).
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    options.setdefault("pool_pre_ping", not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"))
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "pages.login"
    # Phones change networks all day, so sessions are not tied to IP; Plate uses no "fresh login" checks.
    login_manager.session_protection = None
    api.init_app(app)
    guard.init_app(app)


def register_security(app: Flask) -> None:
    """Headers, cookie flags and the proxy; rate limits run after the guard, which knows the caller."""
    from webapp import ratelimits, security

    security.init_app(app)
    ratelimits.init_app(app)


def register_blueprints(app: Flask) -> None:
    from webapp import api as api_blueprints
    from webapp import health, pages, pwa
    from webapp.extensions import api
    from webapp.pages import record as record_pages

    api_blueprints.register(api)
    app.register_blueprint(pages.bp)
    app.register_blueprint(record_pages.bp)
    app.register_blueprint(pwa.bp)
    app.register_blueprint(health.bp)


def register_commands(app: Flask) -> None:
    from webapp.cli import demo_command, export_org_command, import_org_command, push_group

    app.cli.add_command(demo_command)
    app.cli.add_command(push_group)
    app.cli.add_command(export_org_command)
    app.cli.add_command(import_org_command)


def start_background_work(app: Flask) -> None:
    """`make run` serves with the push dispatcher in-process (never in tests or CLI commands)."""
    if app.config["PLATE_DISPATCH_IN_PROCESS"] and not app.testing:
        from webapp.notifications.dispatcher import start_in_process

        start_in_process(app, app.config["PLATE_DISPATCH_INTERVAL"])


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, write-ahead log for concurrent readers, wait instead of 'locked'."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

"""Helpers shared by the benchmarks: free ports, gunicorn processes, wrk runs, a seeded database."""
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def scratch_database(server_url: str | None, name: str, workdir: Path):
    """A new, empty database for one benchmark; yields its URL.

    Without a server URL it is a SQLite file in `workdir`; with one, the database `name` is
    (re)created on that PostgreSQL server and dropped again at the end.
    """
    if server_url is None:
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    drop = text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    with admin.connect() as connection:
        connection.execute(drop)
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(drop)
        admin.dispose()


@contextmanager
def seeding(url: str, secret: str, organization_name: str = "Bench Inc"):
    """A migrated database with a new organization, inside an app context; yields (app, organization).

    Fill it in the block; at its end the rows are committed, the planner's statistics refreshed
    (ANALYZE) and the connections closed, so the benchmark's own server starts from a settled file.
    """
    from flask_migrate import upgrade
    from sqlalchemy import text

    from webapp import create_app, logs
    from webapp.extensions import db
    from webapp.models import Organization

    app = create_app({"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
    # upgrade() ran alembic's fileConfig, which sets the root logger to WARN: the benchmark's own process
    # (the dispatcher in bench/push.py) logs as the app does instead.
    logs.configure(app.config["PLATE_LOG_FORMAT"], app.config["PLATE_LOG_LEVEL"])
    with app.app_context():
        organization = Organization(name=organization_name)
        db.session.add(organization)
        db.session.flush()
        yield app, organization
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int = 2):
    """Serve `app_spec` with gunicorn on a free loopback port; yields the base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", app_spec],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int = 16) -> float:
    """Requests per second that wrk measures against `url` (non-2xx answers count as failure)."""
    command = ["wrk", "--threads", "2", "--connections", str(connections), "--duration", f"{seconds}s"]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw error responses from {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def request_latencies(url: str, secret: str, login: dict, path: str, check, before=None):
    """A generator of single GET latencies (seconds) through the whole Flask stack, in process.

    `check(response)` asserts the answer is the one being measured, so a broken read cannot look fast;
    `before(app)`, if given, runs before each request, outside the time measured.
    """
    from webapp import create_app
    from webapp.extensions import db

    # Request logs would flood the terminal; both sides of a ratio run without them alike.
    app = create_app({"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": url, "PLATE_LOG_LEVEL": "WARNING"})
    client = app.test_client()
    client.post("/api/v1/session", json=login)
    try:
        while True:
            if before is not None:
                before(app)
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            check(response)
            yield elapsed
    finally:  # closed: let go of the database (its caller cache's listener too) before it is dropped
        with app.app_context():
            db.engine.dispose()

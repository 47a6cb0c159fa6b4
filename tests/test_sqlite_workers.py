"""SQLite under gunicorn: 4 worker processes writing at once never hand a client 'database is locked' or a 5xx."""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_org, make_user
from webapp import create_app
from webapp.extensions import db
from webapp.models import Item

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
PEOPLE = 10
ROUNDS = 5  # each person: add, read, edit, move and change settings this many times


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited before serving"
        try:
            if requests.get(f"{base}/api/v1/openapi.json", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not start serving in time")


def work_of_one_person(base: str, email: str, owner_id: int) -> list[tuple[str, int, str]]:
    """Log in and write as fast as possible; returns (what, status, body) of every answer."""
    http = requests.Session()
    answers = []

    def call(method, path, **kwargs):
        response = http.request(method, f"{base}/api/v1{path}", timeout=60, **kwargs)
        answers.append((f"{method} {path}", response.status_code, response.text))
        return response

    login = call("POST", "/session", json={"email": email, "password": PASSWORD})
    if login.status_code != 200:
        return answers
    http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    first = call("POST", "/items", json={"owner_id": owner_id, "title": "First"}).json()
    for round_ in range(ROUNDS):
        created = call("POST", "/items", json={"owner_id": owner_id, "title": f"Task {round_}", "priority": "high"},
                       headers={"Idempotency-Key": f"{email}-{round_}"})
        if created.status_code != 201 or "id" not in first:
            return answers
        item = created.json()
        call("GET", f"/people/{owner_id}/plate")
        call("PATCH", f"/items/{item['id']}", json={"notes": f"note {round_}"},
             headers={"If-Match": f'"{item["version"]}"'})
        call("POST", f"/items/{item['id']}/move", json={"after_id": first["id"]})
        call("PATCH", "/me/notification-settings", json={"digest_times": [f"{9 + round_ % 8:02d}:00"]})
    return answers


def test_four_gunicorn_workers_share_one_sqlite_file_without_locked_errors(tmp_path, sqlite_template):
    database = tmp_path / "plate.db"
    shutil.copyfile(sqlite_template, database)
    url = f"sqlite:///{database}"
    arrange = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url})
    with arrange.app_context():
        org = make_org()
        people = [(person.email, person.id) for person in (make_user(org) for _ in range(PEOPLE))]
        db.session.commit()
        db.engine.dispose()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url, "PLATE_SECRET_KEY": "test", "PLATE_RATELIMIT_ENABLED": "0",
           "PLATE_DISPATCH_IN_PROCESS": "0"}
    log = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen(
        [str(GUNICORN), "--workers", "4", "--bind", f"127.0.0.1:{port}", "--timeout", "60", "webapp:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(base, server)
        start = threading.Barrier(PEOPLE)

        def run(person):
            start.wait(timeout=60)
            return work_of_one_person(base, *person)

        with ThreadPoolExecutor(PEOPLE) as pool:
            answers = [answer for result in pool.map(run, people) for answer in result]
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    log.seek(0)
    server_log = log.read()
    log.close()

    failures = [answer for answer in answers if answer[1] >= 500 or "locked" in answer[2]]
    assert failures == [], failures[:5]
    assert "database is locked" not in server_log
    assert {status for _, status, _ in answers} <= {200, 201}, [a for a in answers if a[1] not in (200, 201)][:5]
    assert len(answers) == PEOPLE * (2 + 5 * ROUNDS)
    check = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url})
    with check.app_context():
        assert db.session.scalar(select(func.count()).select_from(Item)) == PEOPLE * (1 + ROUNDS)
        db.engine.dispose()

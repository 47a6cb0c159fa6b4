"""Load test: 200 simulated people using Plate at once, against gunicorn on PostgreSQL, then on SQLite.

Each simulated person logs in once (their own session and CSRF token) and then, with no pause,
repeats a mix of what people do: 80% read a plate (their own or a report's), 15% edit one of
their open items (If-Match with the version they last saw), 5% add an item. Reported per backend:
throughput, p50/p95/p99 latency and errors (goal: 0). Rate limits are off (PLATE_RATELIMIT_ENABLED=0).

gunicorn runs with the deployment's gunicorn.conf.py (workers from the cores). The script creates
and drops its own PostgreSQL database (bench_load) and its own temporary SQLite file.
Usage: python bench/load.py [--database-url URL] [--seconds 60] [--users 200] [--backends postgresql,sqlite]
"""
import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bench.common import ROOT, free_port, percentile, scratch_database, seeding, wait_for_port  # noqa: E402
from webapp.auth.passwords import hash_password  # noqa: E402
from webapp.clock import now  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Item, User  # noqa: E402

PASSWORD = "load test password"
SECRET = "bench-load-secret"
DATABASE = "bench_load"
TEAM_SIZE = 9  # each manager has this many reports
ITEMS_PER_PERSON = 12


@dataclass
class Person:
    id: int
    email: str
    report_ids: list[int]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"read": [], "edit": [], "add": []})
    errors: Counter = field(default_factory=Counter)


def seed(url: str, users: int) -> list[Person]:
    """Migrate and fill: managers with TEAM_SIZE reports each, every person with open items; one password."""
    with seeding(url, SECRET, "Load Test Inc") as (_app, organization):
        password_hash = hash_password(PASSWORD)
        managers = users // (TEAM_SIZE + 1)
        at = now()

        def person(n: int, manager_id: int | None) -> dict:
            return {"organization_id": organization.id, "name": f"Person {n}", "email": f"person{n}@load.test",
                    "password_hash": password_hash, "time_zone": ("Europe/Berlin", "Asia/Kolkata")[n % 2],
                    "manager_id": manager_id, "is_admin": n == 0, "session_epoch": 0, "created_at": at}

        manager_ids = list(db.session.scalars(insert(User).returning(User.id), [person(n, None) for n in range(managers)]))
        rows = [person(managers + n, manager_ids[n % managers]) for n in range(users - managers)]
        db.session.execute(insert(User), rows)
        people = db.session.execute(select(User.id, User.email, User.manager_id).order_by(User.id)).all()
        items = [{"organization_id": organization.id, "owner_id": user_id, "created_by_id": user_id,
                  "title": f"Follow up with customer {n} about the renewal quote", "notes": "",
                  "priority": ("high", "normal", "low")[n % 3], "urgent": False,
                  "due_on": (at + timedelta(days=n % 20 - 5)).date(), "status": "open",
                  "position": 1024.0 * (n + 1), "version": 1, "created_at": at, "updated_at": at}
                 for user_id, _, _ in people for n in range(ITEMS_PER_PERSON)]
        db.session.execute(insert(Item), items)
    reports: dict[int, list[int]] = {}
    for user_id, _, manager_id in people:
        if manager_id is not None:
            reports.setdefault(manager_id, []).append(user_id)
    return [Person(user_id, email, reports.get(user_id, [])) for user_id, email, _ in people]


@contextmanager
def served(url: str):
    """gunicorn with the deployment's config on a free loopback port; yields the base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PLATE_SECRET_KEY": SECRET, "PLATE_RATELIMIT_ENABLED": "0",
           "PLATE_BIND": f"127.0.0.1:{port}", "PLATE_DISPATCH_IN_PROCESS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "webapp:create_app()"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _answers(f"{base}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start serving")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status == 200
    except OSError:
        return False


async def log_in(http: aiohttp.ClientSession, base: str, person: Person, tally: Tally) -> dict | None:
    """The person's CSRF header and the versions of their open items, or None if the login failed."""
    try:
        async with http.post(f"{base}/api/v1/session", json={"email": person.email, "password": PASSWORD}) as answer:
            if answer.status != 200:
                tally.errors[f"login {answer.status}"] += 1
                return None
            headers = {"X-CSRF-Token": (await answer.json())["csrf_token"]}
        async with http.get(f"{base}/api/v1/people/{person.id}/plate") as answer:
            if answer.status != 200:
                tally.errors[f"first read {answer.status}"] += 1
                return None
            versions = {item["id"]: item["version"] for item in (await answer.json())["items"]}
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        tally.errors[f"login {type(error).__name__}"] += 1
        return None
    return {"headers": headers, "versions": versions}


async def simulate(http: aiohttp.ClientSession, base: str, person: Person, state: dict, deadline: float,
                   tally: Tally) -> None:
    """One person, already logged in: read, edit and add without pause until the deadline."""
    rng = random.Random(person.id)
    headers, versions = state["headers"], state["versions"]
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.80:
            kind, method, path = "read", "GET", f"/people/{rng.choice([person.id, *person.report_ids])}/plate"
            body, extra = None, {}
        elif roll < 0.95:
            item_id = rng.choice(list(versions))
            kind, method, path = "edit", "PATCH", f"/items/{item_id}"
            body, extra = {"notes": f"called at {time.time():.0f}"}, {"If-Match": f'"{versions[item_id]}"'}
        else:
            kind, method, path = "add", "POST", "/items"
            body, extra = {"owner_id": person.id, "title": "Call back about the quote"}, {}
        started = time.perf_counter()
        try:
            async with http.request(method, base + "/api/v1" + path, json=body, headers={**headers, **extra}) as answer:
                payload = await answer.read()
                elapsed = time.perf_counter() - started
                if answer.status >= 300:
                    tally.errors[f"{kind} {answer.status}"] += 1
                    continue
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            tally.errors[f"{kind} {type(error).__name__}"] += 1
            continue
        tally.latencies[kind].append(elapsed)
        if kind in ("edit", "add"):
            item = json.loads(payload)
            versions[item["id"]] = item["version"]


async def run_load(base: str, people: list[Person], seconds: float) -> tuple[Tally, float]:
    """Log everyone in (a few at a time: password hashing is slow by design), then let them all loose at once."""
    tally = Tally()
    timeout = aiohttp.ClientTimeout(total=60)
    sessions = [aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=1),
                                      cookie_jar=aiohttp.CookieJar(unsafe=True))  # unsafe: keep cookies of 127.0.0.1
                for _ in people]
    try:
        gate = asyncio.Semaphore(8)

        async def gated_login(http, person):
            async with gate:
                return await log_in(http, base, person, tally)

        states = await asyncio.gather(*(gated_login(http, person) for http, person in zip(sessions, people)))
        started = time.monotonic()
        await asyncio.gather(*(simulate(http, base, person, state, started + seconds, tally)
                               for http, person, state in zip(sessions, people, states) if state is not None))
        return tally, time.monotonic() - started
    finally:
        await asyncio.gather(*(http.close() for http in sessions))


def report(backend: str, tally: Tally, elapsed: float) -> None:
    every = [s for samples in tally.latencies.values() for s in samples]
    errors = sum(tally.errors.values())
    print(f"\n{backend}: {len(every) + errors:,} requests in {elapsed:.1f} s = {len(every) / elapsed:,.0f} req/s ok, "
          f"{errors} errors {dict(tally.errors) or ''}")
    print(f"  {'':6} {'count':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, samples in [("all", every), *tally.latencies.items()]:
        if samples:
            print(f"  {kind:6} {len(samples):>8,} {percentile(samples, .50) * 1e3:>8.1f} "
                  f"{percentile(samples, .95) * 1e3:>8.1f} {percentile(samples, .99) * 1e3:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
                        help=f"a PostgreSQL server URL (its database {DATABASE} is created and dropped)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    print(f"{args.users} simulated people, 80% plate reads, 15% item edits, 5% adds, {args.seconds:.0f} s per backend")
    for backend in args.backends.split(","):
        server_url = args.database_url if backend == "postgresql" else None
        with tempfile.TemporaryDirectory() as workdir, scratch_database(server_url, DATABASE, Path(workdir)) as url:
            people = seed(url, args.users)
            with served(url) as base:
                tally, elapsed = asyncio.run(run_load(base, people, args.seconds))
            report(backend, tally, elapsed)


if __name__ == "__main__":
    main()

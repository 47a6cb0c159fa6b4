"""Benchmark of Plate's hottest read, GET /people/<id>/plate, against the physical ceiling.

1. Throughput: Plate under gunicorn (2 workers) vs a bare Flask app under the same gunicorn
   returning the same JSON bytes from memory. Goal: ratio >= 0.5.
2. Scale: p95 latency of the same plate read with 1,000 people and 100,000 items in the
   database vs 100 items in all, each read rendered from the database (the plate cache is
   emptied before every sample). Goal: ratio <= 1.5 (indexes, one query).

Rounds of the two sides are interleaved so a noisy shared machine affects both alike.
Usage: python bench/api.py [--database-url URL] [--seconds N] [--rounds N]
"""
import argparse
import json
import random
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench.common import gunicorn, percentile, request_latencies, scratch_database, seeding, wrk  # noqa: E402
from webapp.auth.passwords import hash_password  # noqa: E402
from webapp.clock import now  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Item, User  # noqa: E402

PASSWORD = "benchmark password"
SECRET = "bench-secret"


def seed(url: str, people: int, items_per_person: int, open_per_person: int) -> int:
    """Migrate and fill a database; returns the id of the person whose plate is read."""
    with seeding(url, SECRET) as (_app, organization):
        password_hash = hash_password(PASSWORD)
        boss = User(organization_id=organization.id, name="Boss", email="boss@bench.test",
                    password_hash=password_hash, time_zone="Europe/Berlin", is_admin=True)
        db.session.add(boss)
        db.session.flush()
        rows = [{"organization_id": organization.id, "name": f"Rep {n}", "email": f"rep{n}@bench.test",
                 "password_hash": password_hash, "time_zone": "America/New_York", "manager_id": boss.id,
                 "is_admin": False, "session_epoch": 0, "created_at": now()} for n in range(people - 1)]
        if rows:
            db.session.execute(insert(User), rows)
        owner_ids = [boss.id, *db.session.scalars(text("SELECT id FROM users WHERE manager_id = :b"), {"b": boss.id})]
        at = now()
        batch = []
        for owner_id in owner_ids:
            for n in range(items_per_person):
                is_open = n < open_per_person
                batch.append({
                    "organization_id": organization.id, "owner_id": owner_id, "created_by_id": boss.id,
                    "title": f"Follow up with customer {n} about the renewal quote", "notes": "",
                    "priority": ("high", "normal", "low")[n % 3], "urgent": n % 10 == 0,
                    "due_on": (at + timedelta(days=n % 20 - 5)).date(), "status": "open" if is_open else "done",
                    "position": 1024.0 * (n + 1), "version": 1, "created_at": at, "updated_at": at,
                    "completed_at": None if is_open else at - timedelta(hours=n),
                })
                if len(batch) >= 5000:
                    db.session.execute(insert(Item), batch)
                    batch.clear()
        if batch:
            db.session.execute(insert(Item), batch)
        boss_id = boss.id
    return boss_id


def throughput(url: str, person_id: int, seconds: int, rounds: int, workdir: Path) -> dict:
    env = {"DATABASE_URL": url, "PLATE_SECRET_KEY": SECRET, "PLATE_RATELIMIT_ENABLED": "0"}
    with gunicorn("webapp:create_app()", env) as plate_base:
        login = requests.post(f"{plate_base}/api/v1/session", json={"email": "boss@bench.test", "password": PASSWORD})
        login.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        path = f"/api/v1/people/{person_id}/plate"
        body = requests.get(plate_base + path, headers={"Cookie": cookie}).content
        assert len(json.loads(body)["items"]) == 50, "the plate should hold 50 open items"
        body_file = workdir / "plate.json"
        body_file.write_bytes(body)
        with gunicorn("bench.bare_app:create_app()", {"BARE_BODY_FILE": str(body_file)}) as bare_base:
            wrk(plate_base + path, {"Cookie": cookie}, 2)  # warm both up
            wrk(bare_base + path, {}, 2)
            plate_rps, bare_rps = [], []
            for _ in range(rounds):
                plate_rps.append(wrk(plate_base + path, {"Cookie": cookie}, seconds))
                bare_rps.append(wrk(bare_base + path, {}, seconds))
    plate, bare = statistics.median(plate_rps), statistics.median(bare_rps)
    return {"plate_rps": plate, "bare_rps": bare, "ratio": plate / bare, "bytes": len(body)}


def plate_latencies(url: str, person_id: int):
    """Single plate-read latencies (seconds) through the whole Flask stack, in process."""
    def check(response):
        assert response.status_code == 200 and len(response.json["items"]) == 50

    def uncached(app):  # every sample renders the plate from the database: the cache would hide the indexes
        if "plate_cache" in app.extensions:
            app.extensions["plate_cache"][0].clear()

    login = {"email": "boss@bench.test", "password": PASSWORD}
    return request_latencies(url, SECRET, login, f"/api/v1/people/{person_id}/plate", check, before=uncached)


def scale(small_url: str, small_id: int, large_url: str, large_id: int, samples: int) -> dict:
    small, large = plate_latencies(small_url, small_id), plate_latencies(large_url, large_id)
    for _ in range(30):  # warm caches and connection pools
        next(small), next(large)
    small_samples, large_samples = [], []
    for _ in range(samples):
        first, second = (small, large) if random.random() < 0.5 else (large, small)
        a, b = next(first), next(second)
        small_samples.append(a if first is small else b)
        large_samples.append(b if first is small else a)
    small.close(), large.close()
    p95_small, p95_large = percentile(small_samples, 0.95), percentile(large_samples, 0.95)
    return {"p95_small_ms": p95_small * 1000, "p95_large_ms": p95_large * 1000, "ratio": p95_large / p95_small}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (databases bench_small and bench_large are made and dropped on it); default SQLite")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=400)
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory() as tmp, \
            scratch_database(args.database_url, "bench_small", Path(tmp)) as small_url, \
            scratch_database(args.database_url, "bench_large", Path(tmp)) as large_url:
        workdir = Path(tmp)
        small_id = seed(small_url, people=2, items_per_person=50, open_per_person=50)
        large_id = seed(large_url, people=1000, items_per_person=100, open_per_person=50)

        result = throughput(small_url, small_id, args.seconds, args.rounds, workdir)
        print(f"[{backend}] GET /people/<id>/plate, 50 open items ({result['bytes']} bytes), gunicorn 2 workers:")
        print(f"  Plate {result['plate_rps']:.0f} req/s vs bare Flask {result['bare_rps']:.0f} req/s"
              f" -> ratio {result['ratio']:.2f} (goal >= 0.5)")
        figures = scale(small_url, small_id, large_url, large_id, args.samples)
        print(f"[{backend}] plate read p95: 100 items in all {figures['p95_small_ms']:.2f} ms vs"
              f" 1,000 people / 100,000 items {figures['p95_large_ms']:.2f} ms"
              f" -> ratio {figures['ratio']:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()

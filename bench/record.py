"""Benchmark of the record, GET /api/v1/people/<id>/record, against the size of a person's history.

Two people of one organization finished the same 200 items in the same quarter; one has nothing else,
the other has 20,000 items over 3 years (19,800 finished or still open outside that quarter). Reading
that quarter's record must not cost more for the long history: goal p95 ratio <= 1.5 (indexes on
owner/status/finished instant, one query, no per-row queries). Requests go through the whole Flask stack
in process, interleaved in random order so a noisy shared machine affects both alike, on SQLite and,
when a server is given, on PostgreSQL in a database of its own that is dropped afterwards.

Usage: python bench/record.py [--database-url URL] [--samples N]
  URL: any database on a PostgreSQL server (default: $TEST_DATABASE_URL); without one, SQLite only.
"""
import argparse
import os
import random
import sys
import tempfile
from datetime import UTC, date, datetime, time as day_time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from bench.common import percentile, request_latencies, scratch_database, seeding  # noqa: E402
from webapp.auth.passwords import hash_password  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Item, User  # noqa: E402

PASSWORD = "benchmark password"
SECRET = "bench-secret"
ZONE = "America/New_York"
PERIOD = (date(2026, 7, 1), date(2026, 9, 30))  # the measured quarter
HISTORY = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))  # 3 years
IN_PERIOD, HEAVY_TOTAL = 200, 20_000


def _instant_in_period(rng: random.Random) -> datetime:
    zone = ZoneInfo(ZONE)
    start = datetime.combine(PERIOD[0], day_time(), tzinfo=zone)
    end = datetime.combine(PERIOD[1] + timedelta(days=1), day_time(), tzinfo=zone)
    return (start + (end - start) * rng.random()).astimezone(UTC)


def _instant_outside_period(rng: random.Random) -> datetime:
    zone = ZoneInfo(ZONE)
    start = datetime.combine(PERIOD[0] - timedelta(days=2), day_time(), tzinfo=zone)
    end = datetime.combine(PERIOD[1] + timedelta(days=2), day_time(), tzinfo=zone)
    while True:
        at = HISTORY[0] + (HISTORY[1] - HISTORY[0]) * rng.random()
        if not start <= at < end:
            return at


def _item_row(org_id: int, owner_id: int, creator_id: int, finished_at: datetime | None, n: int, rng) -> dict:
    """One item as a row; done (85%) or dropped when `finished_at` is given, else open."""
    created_at = (finished_at or HISTORY[1]) - timedelta(days=rng.uniform(0.1, 30))
    status = "open" if finished_at is None else ("done" if rng.random() < 0.85 else "dropped")
    return {
        "organization_id": org_id, "owner_id": owner_id, "created_by_id": creator_id,
        "title": f"Follow up with customer {n} about the renewal quote", "notes": "",
        "priority": ("high", "normal", "low")[n % 3], "urgent": False,
        "due_on": (created_at + timedelta(days=rng.randint(1, 20))).date() if n % 2 else None,
        "status": status, "position": 1024.0 * (n + 1), "version": 1,
        "created_at": created_at, "updated_at": finished_at or created_at,
        "completed_at": finished_at if status == "done" else None,
        "dropped_at": finished_at if status == "dropped" else None,
        "drop_reason": "No longer needed after the merger" if status == "dropped" else None,
        "drop_kind": "no_longer_needed" if status == "dropped" and n % 2 else None,
    }


def seed(url: str) -> tuple[int, int]:
    """Migrate and fill a database; returns the ids of the light and the heavy person."""
    rng = random.Random(6)
    with seeding(url, SECRET) as (_app, organization):
        password_hash = hash_password(PASSWORD)
        boss = User(organization_id=organization.id, name="Boss", email="boss@bench.test",
                    password_hash=password_hash, time_zone=ZONE, is_admin=True)
        db.session.add(boss)
        db.session.flush()
        light, heavy = (User(organization_id=organization.id, name=name, email=f"{name.lower()}@bench.test",
                             password_hash=password_hash, time_zone=ZONE, manager_id=boss.id)
                        for name in ("Light", "Heavy"))
        db.session.add_all([light, heavy])
        db.session.flush()
        in_period = [_instant_in_period(rng) for _ in range(IN_PERIOD)]
        rows = []
        for owner in (light, heavy):  # the same quarter for both
            state = rng.getstate()
            rows += [_item_row(organization.id, owner.id, boss.id if n % 3 else owner.id, at, n, rng)
                     for n, at in enumerate(in_period)]
            rng.setstate(state)
        for n in range(IN_PERIOD, HEAVY_TOTAL):
            finished_at = None if n % 20 == 0 else _instant_outside_period(rng)
            rows.append(_item_row(organization.id, heavy.id, boss.id if n % 3 else heavy.id, finished_at, n, rng))
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Item), rows[start:start + 5000])
        ids = light.id, heavy.id
    return ids


def record_latencies(url: str, person_id: int):
    """Single record-read latencies (seconds) through the whole Flask stack, in process."""
    def check(response):
        assert response.status_code == 200 and len(response.json["items"]) == IN_PERIOD, response.status_code

    login = {"email": "boss@bench.test", "password": PASSWORD}
    return request_latencies(url, SECRET, login, f"/api/v1/people/{person_id}/record?from={PERIOD[0]}&to={PERIOD[1]}", check)


def compare(url: str, light_id: int, heavy_id: int, samples: int) -> dict:
    light, heavy = record_latencies(url, light_id), record_latencies(url, heavy_id)
    for _ in range(20):  # warm caches and connection pools
        next(light), next(heavy)
    light_samples, heavy_samples = [], []
    for _ in range(samples):
        pair = [(light, light_samples), (heavy, heavy_samples)]
        random.shuffle(pair)
        for generator, samples_of in pair:
            samples_of.append(next(generator))
    light.close(), heavy.close()
    figures = {f"p{p}_{side}": percentile(s, p / 100) * 1000
               for p in (50, 95) for side, s in (("light", light_samples), ("heavy", heavy_samples))}
    figures["ratio_p50"] = figures["p50_heavy"] / figures["p50_light"]
    figures["ratio_p95"] = figures["p95_heavy"] / figures["p95_light"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"),
                        help="a PostgreSQL server URL (a database bench_record_<pid> is made and dropped on it); "
                             "default $TEST_DATABASE_URL, else SQLite only")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    results = {}
    backends = {"SQLite": None, **({"PostgreSQL": args.database_url} if args.database_url else {})}
    for backend, server_url in backends.items():
        with tempfile.TemporaryDirectory() as tmp, scratch_database(server_url, f"bench_record_{os.getpid()}", Path(tmp)) as url:
            results[backend] = compare(url, *seed(url), args.samples)

    print(f"GET /api/v1/people/<id>/record for one quarter ({IN_PERIOD} items finished in it), "
          f"{args.samples} interleaved samples each:")
    print(f"  person with {IN_PERIOD} items in all vs {HEAVY_TOTAL:,} items over 3 years (ms)")
    print(f"  {'backend':<11} {'p50 200':>9} {'p50 20k':>9} {'ratio':>6}   {'p95 200':>9} {'p95 20k':>9} {'ratio':>6}"
          "  goal p95 ratio <= 1.5")
    for backend, f in results.items():
        verdict = "met" if f["ratio_p95"] <= 1.5 else "NOT met"
        print(f"  {backend:<11} {f['p50_light']:>9.2f} {f['p50_heavy']:>9.2f} {f['ratio_p50']:>6.2f}"
              f"   {f['p95_light']:>9.2f} {f['p95_heavy']:>9.2f} {f['ratio_p95']:>6.2f}  {verdict}")


if __name__ == "__main__":
    main()

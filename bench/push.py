"""Benchmark of push delivery, each figure a ratio of two measurements taken side by side.

1. Digests delivered per second end to end (claim pending digests, build payloads, encrypt, POST
   over pooled connections to a loopback push service in another process that answers 201)
   against the raw encryption ceiling: pywebpush's aes128gcm encoding alone, same payload size,
   same process. Goal: ratio >= 0.5.
2. One `push tick` with 10,000 vs 200,000 people in the database, 1,000 of them due in both.
   Goal: time ratio <= 1.5 (the tick works only on due people, found by index).

Usage: python bench/push.py [--database-url URL] [--due N] [--rounds N]
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from py_vapid import Vapid02  # noqa: E402
from pywebpush import WebPusher  # noqa: E402
from sqlalchemy import JSON, delete, false, insert, literal, select  # noqa: E402

from bench.common import scratch_database, seeding  # noqa: E402
from tests.loopback_push import Device  # noqa: E402
from webapp.clock import now  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import (  # noqa: E402
    Delivery,
    DeliveryAttempt,
    Digest,
    Item,
    Notification,
    NotificationPreferences,
    PendingDigest,
    PushSubscription,
    User,
)
from webapp.models.types import UTCDateTime  # noqa: E402
from webapp.notifications import dispatcher, worker  # noqa: E402
from webapp.notifications.payload import encode_payload, tag_for, topic_for  # noqa: E402
from webapp.notifications.sender import PushSender  # noqa: E402

SECRET = "bench-secret"
TITLE = "Update the Q4 pipeline in the CRM so finance can close the forecast"


def push_service() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("push_service.py"))],
                               stdout=subprocess.PIPE, text=True)
    return process, f"http://127.0.0.1:{process.stdout.readline().strip()}"


def seed(url: str, people: int, due: int, origin: str) -> dict:
    """People each with a device, an item and a pending digest; `due` of them due now, the rest tomorrow.

    Nobody has quiet time: with the default quiet hours (18:00-08:00 in their zone) and weekends, a run
    in the evening or on a Saturday would postpone every push instead of measuring its delivery.
    """
    device = Device(f"{origin}/push/x")
    with seeding(url, SECRET) as (app, organization):
        at = now()
        for start in range(0, people, 10_000):
            db.session.execute(insert(User), [
                {"organization_id": organization.id, "name": f"Rep {n}", "email": f"rep{n}@bench.test",
                 "password_hash": "x", "time_zone": "UTC", "is_admin": False, "session_epoch": 0,
                 "plate_version": 0, "created_at": at} for n in range(start, min(people, start + 10_000))])
        ids = db.session.scalars(select(User.id).order_by(User.id)).all()
        for start in range(0, people, 10_000):
            chunk = ids[start:start + 10_000]
            db.session.execute(insert(PushSubscription), [
                {"user_id": uid, "endpoint": f"{origin}/push/{uid}", "p256dh": device.p256dh, "auth": device.auth,
                 "created_at": at, "updated_at": at} for uid in chunk])
            db.session.execute(insert(Item), [
                {"organization_id": organization.id, "owner_id": uid, "created_by_id": ids[0], "title": TITLE,
                 "notes": "", "priority": "high", "urgent": False, "status": "open", "position": 1024.0,
                 "version": 1, "created_at": at, "updated_at": at} for uid in chunk])
            db.session.execute(insert(NotificationPreferences), [
                {"user_id": uid, "quiet_start": "00:00", "quiet_end": "00:00", "quiet_days": [],
                 "digest_times": ["09:00", "13:00", "16:30"], "push_enabled": True} for uid in chunk])
        seed_history(at - timedelta(days=1))
    return {"app": app, "device": device}


def seed_history(day_before):
    """Yesterday's digest for everyone, delivered: the database of a Plate in use, not of its first minute.

    Its statistics are then current (seeding() ends with ANALYZE). On tables analyzed empty, a database
    session plans its foreign-key checks once as sequential scans and keeps those plans while the tables
    grow, until autovacuum's next ANALYZE; a benchmark of the first minutes would measure that instead.
    """
    when = literal(day_before, UTCDateTime())
    db.session.execute(insert(Digest).from_select(
        ["user_id", "created_at", "urgent", "kind", "line_count", "payload", "ttl"],
        select(User.id, when, false(), literal("digest"), literal(1),
               literal({"events": [], "today": day_before.date().isoformat()}, JSON()), literal(3600))))
    db.session.execute(insert(Delivery).from_select(
        ["digest_id", "subscription_id", "status", "attempts", "next_attempt_at", "delivered_at"],
        select(Digest.id, PushSubscription.id, literal("delivered"), literal(1), when, when)
        .join(PushSubscription, PushSubscription.user_id == Digest.user_id)))
    db.session.execute(insert(DeliveryAttempt).from_select(
        ["delivery_id", "at", "status_code", "outcome"],
        select(Delivery.id, when, literal(201), literal("delivered"))))


def make_due(app, due: int, people_due_later: int = 0) -> None:
    """Give the first `due` people an event and a pending digest due now (others: due tomorrow)."""
    with app.app_context():
        at = now()
        db.session.execute(delete(PendingDigest))
        owners = db.session.execute(select(Item.id, Item.owner_id).order_by(Item.id)).all()
        db.session.execute(insert(Notification), [
            {"user_id": owner, "item_id": item, "actor_id": owners[0][1], "kind": "added", "urgent": False,
             "created_at": at - timedelta(minutes=5)} for item, owner in owners[:due]])
        db.session.execute(insert(PendingDigest), [
            {"user_id": owner, "due_at": at - timedelta(minutes=1) if n < due else at + timedelta(days=1),
             "pending_since": at - timedelta(minutes=5), "urgent": False}
            for n, (_, owner) in enumerate(owners[:due + people_due_later])])
        db.session.commit()


def timed_tick(app, sender) -> tuple[float, worker.PassReport]:
    with app.app_context():
        started = time.perf_counter()
        report = worker.tick(db.session, sender, SECRET)
        elapsed = time.perf_counter() - started
        db.session.remove()
    assert report.digests and report.outcomes.get("delivered") == report.sent, report
    return elapsed, report


def encryption_ceiling(device: Device, payload: bytes, count: int) -> float:
    """Seconds to encrypt `count` payloads with pywebpush alone."""
    info = device.subscription()
    started = time.perf_counter()
    for _ in range(count):
        WebPusher(info).encode(payload, "aes128gcm")
    return time.perf_counter() - started


def sample_payload(app) -> bytes:
    with app.app_context():
        digest = db.session.scalars(select(Delivery).order_by(Delivery.id.desc())).first().digest  # this round's
        return encode_payload(worker.digest_payload(digest, tag=tag_for(topic_for(digest.user_id, SECRET))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (databases bench_push_small and bench_push_large are made and dropped on it)")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    vapid = Vapid02()
    vapid.generate_keys()
    service, origin = push_service()
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                scratch_database(args.database_url, "bench_push_small", Path(tmp)) as small_url, \
                scratch_database(args.database_url, "bench_push_large", Path(tmp)) as large_url:
            small = seed(small_url, 10_000, args.due, origin)
            large = seed(large_url, 200_000, args.due, origin)
            pipeline, ceiling, small_ticks, large_ticks = [], [], [], []
            # As the dispatcher sends (PLATE_PUSH_PROCESSES worker processes), started before the clock runs.
            sender = PushSender(vapid, "mailto:bench@plate.test", processes=small["app"].config["PLATE_PUSH_PROCESSES"])
            sender.start()
            dispatcher.settle_heap()  # as `push run` does before its first pass
            # One pass on each database first, not measured: a dispatcher runs pass after pass, with its
            # statements compiled and (psycopg, from their fifth run) prepared, and its small caches filled.
            for database, people in ((small, 9_000), (large, 190_000)):
                make_due(database["app"], args.due, people_due_later=people)
                timed_tick(database["app"], sender)
            for _ in range(args.rounds):
                make_due(small["app"], args.due, people_due_later=9_000)
                elapsed, report = timed_tick(small["app"], sender)
                pipeline.append(report.sent / elapsed)
                small_ticks.append(elapsed)
                payload = sample_payload(small["app"])
                ceiling.append(args.due / encryption_ceiling(small["device"], payload, args.due))
                make_due(large["app"], args.due, people_due_later=190_000)
                large_ticks.append(timed_tick(large["app"], sender)[0])
            sender.close()
        end_to_end, raw = statistics.median(pipeline), statistics.median(ceiling)
        print(f"[{backend}] digests end to end {end_to_end:.0f}/s vs encryption alone {raw:.0f}/s"
              f" ({len(payload)}-byte payloads) -> ratio {end_to_end / raw:.2f} (goal >= 0.5)")
        small_tick, large_tick = statistics.median(small_ticks), statistics.median(large_ticks)
        print(f"[{backend}] push tick with {args.due} due: 10,000 people {small_tick * 1000:.0f} ms vs"
              f" 200,000 people {large_tick * 1000:.0f} ms -> ratio {large_tick / small_tick:.2f} (goal <= 1.5)")
    finally:
        service.terminate()


if __name__ == "__main__":
    main()

"""The dispatcher against a push service on 127.0.0.1 that checks VAPID and decrypts: `flask push keys|tick`,
what the service's answers do, and dispatchers taking turns on SQLite."""
import gc
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.factories import make_item, make_org, make_user
from tests.loopback_push import LoopbackPushService
from webapp.extensions import db
from webapp.models import Delivery, DeliveryAttempt, PushSubscription
from webapp.notifications import dispatcher

ADDED = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)   # 10:30 in Kolkata
DIGEST = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)  # the 13:00 digest there


@pytest.fixture
def service():
    with LoopbackPushService() as running:
        yield running


@pytest.fixture
def ravi(app, ctx, service):
    boss = make_user(make_org(), "Dana", time_zone="Europe/London")
    ravi = make_user(boss.organization, "Ravi", boss, time_zone="Asia/Kolkata")
    for name in ("phone", "laptop"):
        keys = service.device(f"ravi-{name}").subscription()
        db.session.add(PushSubscription(user_id=ravi.id, endpoint=keys["endpoint"], p256dh=keys["keys"]["p256dh"],
                                        auth=keys["keys"]["auth"]))
    with time_machine.travel(ADDED, tick=False):
        make_item(ravi, boss, "Update the Q4 pipeline")
        db.session.commit()
    return ravi


def tick(app, at):
    with time_machine.travel(at, tick=False):
        return dispatcher.tick(app)


def test_a_410_removes_only_that_device_and_the_other_still_gets_the_digest(app, service, ravi):
    service.answers["ravi-laptop"].append((410, {}))

    report = tick(app, DIGEST)

    assert report.outcomes == {"delivered": 1, "gone": 1}
    assert [received.device for received in service.received] == ["ravi-phone"]
    assert service.received[0].payload["items"][0]["title"] == "Update the Q4 pipeline"
    db.session.expire_all()
    assert db.session.scalars(select(PushSubscription.endpoint)).all() == [f"{service.origin}/push/ravi-phone"]


def test_at_info_the_log_names_the_delivery_that_failed_by_id_and_not_each_one_delivered(app, service, ravi, caplog):
    caplog.set_level(logging.INFO, logger="webapp.notifications.worker")
    service.answers["ravi-laptop"].append((410, {}))

    tick(app, DIGEST)

    lines = [record for record in caplog.records if record.getMessage().startswith("push delivery")]
    laptop = db.session.scalar(select(Delivery.id).where(Delivery.status == "gone"))
    assert [(record.getMessage(), record.delivery_id, record.status_code) for record in lines] == [
        ("push delivery gone", laptop, 410)]
    assert service.origin not in caplog.text  # ids, never the endpoint


def test_a_429_is_retried_after_its_retry_after_and_both_answers_are_kept(app, service, ravi):
    service.answers["ravi-phone"].append((429, {"Retry-After": "120"}))

    tick(app, DIGEST)
    tick(app, DIGEST + timedelta(seconds=119))
    assert [received.device for received in service.received] == ["ravi-laptop"]
    tick(app, DIGEST + timedelta(seconds=120))

    assert sorted(received.device for received in service.received) == ["ravi-laptop", "ravi-phone"]
    db.session.expire_all()
    assert sorted(db.session.scalars(select(DeliveryAttempt.status_code))) == [201, 201, 429]
    assert set(db.session.scalars(select(Delivery.status))) == {"delivered"}


def test_a_500_backs_off_and_is_delivered_later_without_a_second_digest(app, service, ravi):
    service.answers["ravi-phone"].append((500, {}))

    tick(app, DIGEST)
    tick(app, DIGEST + timedelta(minutes=61))  # past the longest first backoff (30 s to 60 s)

    phone = [received for received in service.received if received.device == "ravi-phone"]
    assert len(phone) == 1 and phone[0].payload["count"] == 1
    db.session.expire_all()
    assert db.session.scalars(select(DeliveryAttempt.status_code).order_by(DeliveryAttempt.id)).all().count(500) == 1


def test_push_keys_then_push_tick_deliver_the_due_digest_and_say_what_was_done(app, service, ravi):
    keys = app.test_cli_runner().invoke(args=["push", "keys"])
    assert keys.exit_code == 0 and "VAPID public key:" in keys.output

    with time_machine.travel(DIGEST, tick=False):
        result = app.test_cli_runner().invoke(args=["push", "tick"])

    assert result.exit_code == 0, result.output
    assert "1 digests, 2 sends {'delivered': 2}" in result.output
    assert service.rejected == []
    assert sorted(received.device for received in service.received) == ["ravi-laptop", "ravi-phone"]
    assert service.received[0].payload["items"][0]["title"] == "Update the Q4 pipeline"


def test_on_sqlite_a_dispatcher_waits_while_another_is_in_a_pass(app, service, ravi, database_url):
    with time_machine.travel(DIGEST, tick=False):
        with dispatcher.sqlite_pass_lock(app) as first:  # another dispatcher is in a pass
            assert first
            during = dispatcher.tick(app, name="second")
        after = dispatcher.tick(app, name="second")

    if database_url.startswith("sqlite"):
        assert (during.digests, during.sent, after.digests, after.sent) == (0, 0, 1, 2)
    else:  # PostgreSQL dispatchers share the work through SKIP LOCKED instead
        assert (during.digests, during.sent) == (1, 2)
    assert len(service.received) == 2


def test_the_dispatcher_loop_puts_the_started_process_out_of_the_collectors_way(app):
    """A full collection would otherwise walk every module, the app and SQLAlchemy's caches in mid-pass."""
    stopped = threading.Event()
    stopped.set()
    gc.unfreeze()
    try:
        dispatcher.run(app, 0.01, stopped)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()  # this test process is no dispatcher

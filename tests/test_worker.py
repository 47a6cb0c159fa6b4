"""The dispatcher's passes: what is claimed when, what each push-service answer does, and crash safety."""
import json
import re
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import delete, func, select

from tests.factories import make_item, make_org, make_user
from webapp.extensions import db
from webapp.models import Delivery, DeliveryAttempt, Digest, Notification, PendingDigest, PushSubscription, User
from webapp.notifications import worker

SECRET = "test"


@dataclass
class Outcome:
    kind: str
    status_code: int | None = 201
    retry_at: datetime | None = None
    detail: str | None = None


@dataclass
class FakeSender:
    """Records what would be pushed; answers with a programmed outcome per endpoint (default delivered)."""

    answers: dict[str, list[Outcome]] = field(default_factory=dict)
    sent: list[dict] = field(default_factory=list)

    def message(self, subscription, payload, ttl, topic, urgency, attempt=1):
        """`payload`: the encoded plaintext the dispatcher hands over (or a dict), kept as the device reads it."""
        payload = json.loads(payload) if isinstance(payload, bytes) else payload
        return {"endpoint": subscription.endpoint, "payload": payload, "ttl": ttl, "topic": topic, "urgency": urgency}

    def submit(self, messages, release=None):
        """As PushSender.submit: with `release`, nothing is sent before it resolves to True, nor ever otherwise."""
        future = Future()

        def send(_release=None):
            if release is None or release.result() is True:
                future.set_result(self.send_all(messages))
            else:
                future.cancel()

        if release is None:
            send()
        else:
            release.add_done_callback(send)
        return future

    def send_all(self, messages):
        outcomes = []
        for message in messages:
            self.sent.append(message)
            queue = self.answers.get(message["endpoint"])
            outcomes.append(queue.pop(0) if queue else Outcome("delivered"))
        return outcomes


def subscribe(user, name="phone"):
    subscription = PushSubscription(user_id=user.id, endpoint=f"https://fcm.googleapis.com/fcm/send/{user.id}-{name}",
                                    p256dh="key", auth="auth")
    db.session.add(subscription)
    return subscription


def tick(sender, at):
    with time_machine.travel(at, tick=False):
        return worker.tick(db.session, sender, SECRET, at=at)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def tick_failing_in(step: str, monkeypatch, sender, at, error: Exception | None = None) -> None:
    """A pass that fails in worker.`step` (as if the dispatcher died there), rolled back, with `step` restored."""
    error = error or RuntimeError("killed")

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(worker, step, fail)
    with pytest.raises(type(error)):
        tick(sender, at)
    db.session.rollback()
    monkeypatch.undo()


@pytest.fixture
def team(ctx):
    org = make_org()
    boss = make_user(org, "Dana", time_zone="Europe/London")
    ny = make_user(org, "Noah", boss, time_zone="America/New_York")
    kolkata = make_user(org, "Ravi", boss, time_zone="Asia/Kolkata")
    for person in (boss, ny, kolkata):
        subscribe(person)
    db.session.commit()
    return boss, ny, kolkata


def add(creator, owner, title, at, **fields):
    with time_machine.travel(at, tick=False):
        item = make_item(owner, creator, title, **fields)
        db.session.commit()
    return item


def reports_with_an_item(count, time_zone, added_at):
    """`count` people in `time_zone` reporting to Dana in London, each with a device and an item from her."""
    org = make_org()
    boss = make_user(org, "Dana", time_zone="Europe/London")
    reps = [make_user(org, f"Rep {n}", boss, time_zone=time_zone) for n in range(count)]
    for rep in reps:
        subscribe(rep)
    db.session.commit()
    for rep in reps:
        add(boss, rep, f"For {rep.name}", added_at)
    return reps


def test_a_day_in_the_life_of_three_zones(team):
    boss, ny, kolkata = team
    sender = FakeSender()
    # Wed 25 Nov, 03:00 UTC: 22:00 Tue in New York (quiet), 08:30 Wed in Kolkata (working).
    add(boss, ny, "Update pipeline", utc(2026, 11, 25, 3, 0))
    add(boss, kolkata, "Call Tata Motors", utc(2026, 11, 25, 3, 0))
    add(boss, ny, "Forecast for finance", utc(2026, 11, 25, 3, 5))
    assert tick(sender, utc(2026, 11, 25, 3, 10)).sent == 0  # nobody's digest time yet
    tick(sender, utc(2026, 11, 25, 3, 30))  # 09:00 Kolkata
    assert [m["endpoint"].rsplit("/", 1)[1] for m in sender.sent] == [f"{kolkata.id}-phone"]
    assert sender.sent[0]["payload"]["count"] == 1
    tick(sender, utc(2026, 11, 25, 13, 59))
    assert len(sender.sent) == 1  # 08:59 New York
    tick(sender, utc(2026, 11, 25, 14, 0))  # 09:00 New York: both items in one push
    ny_push = sender.sent[1]
    assert ny_push["endpoint"].endswith(f"{ny.id}-phone")
    assert [line["title"] for line in ny_push["payload"]["items"]] == ["Update pipeline", "Forecast for finance"]
    assert ny_push["urgency"] == "normal" and 3600 <= ny_push["ttl"] <= 86400
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", ny_push["topic"])
    assert ny_push["topic"] != sender.sent[0]["topic"]  # one Topic per person
    tick(sender, utc(2026, 11, 25, 14, 5))
    assert len(sender.sent) == 2  # nothing is sent twice


def test_several_changes_to_one_item_are_one_line(team):
    boss, ny, _ = team
    item = add(boss, ny, "Quote Bosch", utc(2026, 11, 25, 12, 0))
    with time_machine.travel(utc(2026, 11, 25, 12, 5), tick=False):
        from webapp.services import items

        items.update_item(db.session, boss, item.id, ["1"], {"due_on": datetime(2026, 11, 27).date()})
        items.update_item(db.session, boss, item.id, ["2"], {"priority": "high"})
        db.session.commit()
    sender = FakeSender()
    tick(sender, utc(2026, 11, 25, 14, 0))
    payload = sender.sent[0]["payload"]
    assert payload["count"] == 1 and len(payload["items"]) == 1


def test_urgent_item_goes_within_one_pass_and_takes_the_rest_along(team):
    boss, ny, _ = team
    add(boss, ny, "Routine", utc(2026, 11, 25, 15, 0))  # 10:00 NY, waits for 13:00
    add(boss, ny, "Call the CFO now", utc(2026, 11, 25, 15, 1), urgent=True)
    sender = FakeSender()
    tick(sender, utc(2026, 11, 25, 15, 1))
    assert len(sender.sent) == 1 and sender.sent[0]["urgency"] == "high"
    assert {line["title"] for line in sender.sent[0]["payload"]["items"]} == {"Routine", "Call the CFO now"}
    assert db.session.scalar(select(PendingDigest).where(PendingDigest.user_id == ny.id)) is None


def test_missed_slot_is_delivered_on_the_next_pass_not_skipped(team):
    boss, ny, _ = team
    add(boss, ny, "Forecast", utc(2026, 11, 25, 12, 0))  # for the 09:00 NY slot
    sender = FakeSender()
    tick(sender, utc(2026, 11, 25, 16, 45))  # no dispatcher ran until 11:45 NY
    assert len(sender.sent) == 1


def test_each_device_gets_the_digest(team):
    boss, ny, _ = team
    subscribe(ny, "laptop")
    db.session.commit()
    add(boss, ny, "Forecast", utc(2026, 11, 25, 12, 0))
    sender = FakeSender()
    tick(sender, utc(2026, 11, 25, 14, 0))
    assert sorted(m["endpoint"].rsplit("-", 1)[1] for m in sender.sent) == ["laptop", "phone"]


def test_one_batch_of_people_with_two_devices_one_and_none(ctx):
    """Each person's digest carries their own lines, with a push per device; nobody's lines are told twice."""
    two, none, one = reports_with_an_item(3, "America/New_York", utc(2026, 11, 25, 12, 0))  # 07:00 in New York
    subscribe(two, "laptop")
    db.session.execute(delete(PushSubscription).where(PushSubscription.user_id == none.id))
    db.session.commit()
    sender = FakeSender()
    tick(sender, utc(2026, 11, 25, 14, 0))  # 09:00 in New York: all three in one batch
    assert sorted((m["endpoint"].rsplit("/", 1)[1], [line["title"] for line in m["payload"]["items"]])
                  for m in sender.sent) == sorted([(f"{two.id}-phone", [f"For {two.name}"]),
                                                   (f"{two.id}-laptop", [f"For {two.name}"]),
                                                   (f"{one.id}-phone", [f"For {one.name}"])])
    db.session.expire_all()
    carried = db.session.execute(select(Notification.user_id, Digest.user_id)
                                 .join(Digest, Digest.id == Notification.digest_id)).all()
    assert sorted(carried) == sorted((person.id, person.id) for person in (two, none, one))
    assert dict(db.session.execute(select(Digest.user_id, func.count(Delivery.id)).outerjoin(Delivery)
                                   .group_by(Digest.user_id)).all()) == {two.id: 2, none.id: 0, one.id: 1}

    subscribe(none)  # later that morning: their first push tells only what is new
    db.session.commit()
    add(db.session.get(User, none.manager_id), none, "Second", utc(2026, 11, 25, 15, 0))
    tick(sender, utc(2026, 11, 25, 18, 0))  # 13:00 in New York
    assert [(m["endpoint"].rsplit("/", 1)[1], [line["title"] for line in m["payload"]["items"]])
            for m in sender.sent[3:]] == [(f"{none.id}-phone", ["Second"])]


@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription_is_deleted_by_endpoint_only(team, status):
    boss, ny, _ = team
    laptop = subscribe(ny, "laptop")
    db.session.commit()
    add(boss, ny, "Forecast", utc(2026, 11, 25, 12, 0))
    sender = FakeSender(answers={laptop.endpoint: [Outcome("gone", status)]})
    tick(sender, utc(2026, 11, 25, 14, 0))
    db.session.expire_all()
    endpoints = db.session.scalars(select(PushSubscription.endpoint).where(PushSubscription.user_id == ny.id)).all()
    assert endpoints == [f"https://fcm.googleapis.com/fcm/send/{ny.id}-phone"]


def test_retry_after_is_honoured_and_every_attempt_recorded(team):
    boss, ny, _ = team
    add(boss, ny, "Forecast", utc(2026, 11, 25, 12, 0))
    endpoint = f"https://fcm.googleapis.com/fcm/send/{ny.id}-phone"
    sender = FakeSender(answers={endpoint: [Outcome("retry", 429, utc(2026, 11, 25, 14, 10)),
                                            Outcome("retry", 500, utc(2026, 11, 25, 14, 30))]})
    tick(sender, utc(2026, 11, 25, 14, 0))
    tick(sender, utc(2026, 11, 25, 14, 9))  # before Retry-After: nothing
    assert len(sender.sent) == 1
    tick(sender, utc(2026, 11, 25, 14, 10))
    tick(sender, utc(2026, 11, 25, 14, 30))
    assert len(sender.sent) == 3
    db.session.expire_all()
    attempts = db.session.scalars(select(DeliveryAttempt.status_code).order_by(DeliveryAttempt.id)).all()
    assert attempts == [429, 500, 201]
    assert db.session.scalars(select(Delivery.status)).all() == ["delivered"]


def test_retrying_stops_after_a_day(team):
    boss, ny, _ = team
    add(boss, ny, "Forecast", utc(2026, 11, 25, 12, 0))
    endpoint = f"https://fcm.googleapis.com/fcm/send/{ny.id}-phone"
    later = utc(2026, 11, 27, 0, 0)
    sender = FakeSender(answers={endpoint: [Outcome("retry", 503, later), Outcome("retry", 503, later + timedelta(hours=1))]})
    tick(sender, utc(2026, 11, 25, 14, 0))
    tick(sender, utc(2026, 11, 26, 14, 0))  # retried at the 24-hour limit, not later
    tick(sender, utc(2026, 11, 27, 14, 0))
    assert len(sender.sent) == 2
    db.session.expire_all()
    assert db.session.scalars(select(Delivery.status)).all() == ["failed"]


def test_413_resends_with_fewer_items(team):
    boss, ny, _ = team
    for n in range(6):
        add(boss, ny, f"Task {n}", utc(2026, 11, 25, 12, n))
    endpoint = f"https://fcm.googleapis.com/fcm/send/{ny.id}-phone"
    sender = FakeSender(answers={endpoint: [Outcome("too_large", 413)]})
    tick(sender, utc(2026, 11, 25, 14, 0))
    assert [len(m["payload"]["items"]) for m in sender.sent] == [6, 3]
    assert sender.sent[1]["payload"]["count"] == 6


def test_a_dispatcher_killed_after_claiming_loses_nothing(team, monkeypatch):
    boss, ny, _ = team
    add(boss, ny, "Forecast", utc(2026, 11, 25, 12, 0))

    # digest built, delivery leased, then the process dies
    tick_failing_in("start_deliveries", monkeypatch, FakeSender(), utc(2026, 11, 25, 14, 0))
    sender = FakeSender()
    tick(sender, utc(2026, 11, 25, 14, 1))  # the lease still holds: no double send
    assert sender.sent == []
    tick(sender, utc(2026, 11, 25, 14, 3))  # lease expired: delivered once
    assert len(sender.sent) == 1
    db.session.expire_all()
    assert db.session.scalar(select(Digest.line_count)) == 1
    assert db.session.scalars(select(Notification.digest_id)).all() != [None]


def test_a_batch_whose_write_fails_sends_nothing_and_goes_out_once_on_the_next_pass(team, monkeypatch):
    """Its pushes were handed to the sender before the write (to be encrypted meanwhile), held until the commit."""
    boss, ny, _ = team
    add(boss, ny, "Forecast", utc(2026, 11, 25, 12, 0))
    sender = FakeSender()
    tick_failing_in("_write_batch", monkeypatch, sender, utc(2026, 11, 25, 14, 0), ConnectionError("database gone"))
    assert sender.sent == []
    tick(sender, utc(2026, 11, 25, 14, 1))  # the claim rolled back: the digest is still due
    assert [message["payload"]["title"] for message in sender.sent] == ["Forecast"]


def test_a_pass_failing_with_two_batches_on_their_way_records_both_and_sends_nothing_twice(ctx, monkeypatch):
    reports_with_an_item(3, "Europe/London", utc(2026, 11, 25, 12, 0))  # Wednesday: all due at 13:00
    monkeypatch.setattr(worker, "BATCH", 1)  # one person a batch: the pass overlaps three batches

    class Killed(Exception):
        pass

    build, builds = worker.build_due_digests, []

    def build_twice_then_die(*args, **kwargs):
        builds.append(args)
        if len(builds) == 3:
            raise Killed()
        return build(*args, **kwargs)

    monkeypatch.setattr(worker, "build_due_digests", build_twice_then_die)
    sender = FakeSender()
    with pytest.raises(Killed):
        tick(sender, utc(2026, 11, 25, 13, 0))
    assert len(sender.sent) == 2  # the first batch answered and recorded, the second on its way
    db.session.rollback()
    monkeypatch.setattr(worker, "build_due_digests", build)
    tick(sender, utc(2026, 11, 25, 13, 5))  # past the 2-minute lease: an unrecorded push would go again
    endpoints = [message["endpoint"] for message in sender.sent]
    assert len(endpoints) == 3 and len(set(endpoints)) == 3
    delivered = select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")
    assert db.session.scalar(delivered) == 3
    assert db.session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 3


def test_due_date_is_told_in_the_first_digest_of_that_day(team):
    boss, ny, _ = team
    add(boss, ny, "Expenses", utc(2026, 11, 24, 15, 0), due_on=datetime(2026, 11, 26).date())
    sender = FakeSender()
    tick(sender, utc(2026, 11, 24, 18, 0))  # the "added" digest of Tue 13:00 NY
    tick(sender, utc(2026, 11, 26, 13, 59))
    assert len(sender.sent) == 1
    tick(sender, utc(2026, 11, 26, 14, 0))  # Thu 09:00 NY
    assert len(sender.sent) == 2
    assert "due today" in sender.sent[1]["payload"]["items"][0]["what"]


def test_nothing_is_pushed_in_quiet_hours_even_for_urgent_items(team):
    boss, ny, _ = team
    add(boss, ny, "Urgent at night", utc(2026, 11, 26, 3, 0), urgent=True)  # 22:00 NY
    sender = FakeSender()
    for hour in range(3, 13):
        tick(sender, utc(2026, 11, 26, hour, 59))
    assert sender.sent == []
    tick(sender, utc(2026, 11, 26, 13, 0))  # 08:00 NY, quiet hours over
    assert len(sender.sent) == 1 and sender.sent[0]["urgency"] == "high"


def test_two_dispatchers_at_once_never_send_a_digest_twice(app, ctx):
    import threading
    import time
    from collections import Counter

    reps = reports_with_an_item(40, "America/New_York", utc(2026, 11, 25, 12, 0))

    class SlowSender(FakeSender):
        lock = threading.Lock()

        def send_all(self, messages):
            time.sleep(0.05)  # a slow push service widens every race window
            with self.lock:
                return super().send_all(messages)

    sender = SlowSender()
    start = threading.Barrier(2)

    def dispatcher(name):
        with app.app_context(), time_machine.travel(utc(2026, 11, 25, 14, 0), tick=False):
            start.wait()
            for _ in range(3):
                worker.tick(db.session, sender, SECRET, name=name)
            db.session.remove()

    threads = [threading.Thread(target=dispatcher, args=(f"d{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sends = Counter(message["endpoint"] for message in sender.sent)
    assert len(sends) == len(reps) and set(sends.values()) == {1}


def test_a_retry_that_would_land_in_quiet_hours_waits_for_the_morning_with_a_fresh_ttl(team):
    boss, ny, _ = team
    add(boss, ny, "Forecast", utc(2026, 11, 25, 20, 0))  # Wed 15:00 in New York: the 16:30 digest carries it
    endpoint = f"https://fcm.googleapis.com/fcm/send/{ny.id}-phone"
    sender = FakeSender(answers={endpoint: [Outcome("retry", 503, utc(2026, 11, 25, 23, 30))]})  # 18:30 NY

    tick(sender, utc(2026, 11, 25, 21, 30))  # 16:30 NY: the service answers 503, Retry-After two hours
    for at in (utc(2026, 11, 25, 23, 30), utc(2026, 11, 26, 3, 0), utc(2026, 11, 26, 12, 59)):  # 18:30 NY, night
        tick(sender, at)
    assert len(sender.sent) == 1
    tick(sender, utc(2026, 11, 26, 13, 0))  # Thu 08:00 NY, the end of quiet hours

    assert len(sender.sent) == 2
    assert sender.sent[1]["ttl"] == 10 * 3600  # until 18:00 NY, reckoned when it was sent
    db.session.expire_all()
    assert db.session.scalars(select(DeliveryAttempt.status_code).order_by(DeliveryAttempt.id)).all() == [503, 201]


def test_a_lease_that_ran_out_in_quiet_hours_is_not_sent_before_they_end(team, monkeypatch):
    boss, ny, _ = team
    add(boss, ny, "Forecast", utc(2026, 11, 25, 20, 0))
    # 17:59 NY: leased, then the dispatcher dies
    tick_failing_in("start_deliveries", monkeypatch, FakeSender(), utc(2026, 11, 25, 22, 59))
    sender = FakeSender()
    tick(sender, utc(2026, 11, 25, 23, 5))  # 18:05 NY: the lease ran out, but it is quiet now
    assert sender.sent == []
    tick(sender, utc(2026, 11, 26, 13, 0))
    assert len(sender.sent) == 1

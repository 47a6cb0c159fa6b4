"""The dispatcher: one pass (`tick`) turns due work into pushes; `run` repeats it.

Claims are atomic statements, so several dispatchers never take the same work: pending
digests are claimed by deleting them (FOR UPDATE SKIP LOCKED on PostgreSQL) in the same
transaction that builds the digest, and each delivery is leased by moving its
next_attempt_at forward before it is sent. A dispatcher killed mid-pass loses nothing: an
uncommitted claim rolls back, and an expired lease makes the delivery due again.
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from webapp.clock import now
from webapp.models import (
    Delivery,
    DeliveryAttempt,
    Digest,
    DispatcherHeartbeat,
    DueReminder,
    Item,
    Notification,
    NotificationPreferences,
    PendingDigest,
    PushSubscription,
    User,
)
from webapp.notifications import outbox
from webapp.notifications.payload import DigestEvent, build_digest_payload, build_test_payload, topic_for
from webapp.notifications.schedule import push_ttl

log = logging.getLogger(__name__)

BATCH = 500
LEASE = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(hours=24)


@dataclass
class PassReport:
    reminders: int = 0
    digests: int = 0
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def _skip_locked(query, session: Session):
    return query.with_for_update(skip_locked=True) if session.get_bind().dialect.name == "postgresql" else query


# --- reminders: "due today" joins the first digest of the due date -----------------------------

def promote_due_reminders(session: Session, at: datetime) -> int:
    """Turn due reminders into notifications for items still open and due."""
    claimed = _skip_locked(select(DueReminder.item_id).where(DueReminder.remind_at <= at).limit(BATCH), session)
    rows = session.execute(delete(DueReminder).where(DueReminder.item_id.in_(claimed.scalar_subquery()))
                           .returning(DueReminder.item_id, DueReminder.user_id)).all()
    if not rows:
        return 0
    items = session.scalars(select(Item).where(Item.id.in_([item_id for item_id, _ in rows]))).all()
    for item in items:
        if item.status == "open" and item.due_on is not None:
            session.add(Notification(user_id=item.owner_id, item_id=item.id, kind="due_today", created_at=at))
            outbox.schedule_digest(session, item.owner, at, at, urgent=False)
    return len(rows)


# --- digests ----------------------------------------------------------------------------

def build_due_digests(session: Session, at: datetime, topic_secret: str) -> int:
    """Claim due pending digests and turn each into a Digest with one Delivery per device."""
    due = _skip_locked(select(PendingDigest.user_id).where(PendingDigest.due_at <= at)
                       .order_by(PendingDigest.due_at).limit(BATCH), session)
    claimed = session.execute(delete(PendingDigest).where(PendingDigest.user_id.in_(due.scalar_subquery()))
                              .returning(PendingDigest.user_id, PendingDigest.urgent)).all()
    if not claimed:
        return 0
    user_ids = [user_id for user_id, _ in claimed]
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    preferences = {p.user_id: p for p in session.scalars(
        select(NotificationPreferences).where(NotificationPreferences.user_id.in_(user_ids)))}
    devices: dict[int, list[PushSubscription]] = {}
    for subscription in session.scalars(select(PushSubscription).where(PushSubscription.user_id.in_(user_ids))):
        devices.setdefault(subscription.user_id, []).append(subscription)
    waiting: dict[int, list[Notification]] = {}
    for note in session.scalars(select(Notification).where(Notification.user_id.in_(user_ids),
                                                            Notification.digest_id.is_(None))
                                .order_by(Notification.id)):
        waiting.setdefault(note.user_id, []).append(note)

    digests: list[tuple[Digest, list[Notification]]] = []
    for user_id, urgent in claimed:
        notes = waiting.get(user_id)
        if not notes:
            continue  # already carried by an earlier digest
        settings = outbox.settings_for(people[user_id], preferences.get(user_id))
        today = at.astimezone(settings.zone).date().isoformat()
        digest = Digest(user_id=user_id, urgent=urgent, created_at=at, ttl=push_ttl(settings, at),
                        payload={"events": [_event(note) for note in notes], "today": today},
                        line_count=len({note.item_id for note in notes}))
        digests.append((digest, notes))
    session.add_all([digest for digest, _ in digests])
    session.flush()  # one multi-row INSERT ... RETURNING gives every digest its id
    for digest, notes in digests:
        for note in notes:
            note.digest_id = digest.id
        session.add_all([Delivery(digest_id=digest.id, subscription_id=subscription.id, next_attempt_at=at)
                         for subscription in devices.get(digest.user_id, [])])
    session.flush()
    return len(digests)


def _event(note: Notification) -> dict:
    """What a digest needs to know of one notification, frozen when the digest is built."""
    item = note.item
    return {"item_id": item.id, "title": item.title, "kind": note.kind, "actor": note.actor.name if note.actor else None,
            "due_on": item.due_on.isoformat() if item.due_on else None, "priority": item.priority,
            "urgent": note.urgent}


def digest_payload(digest: Digest, max_items: int | None = None) -> dict:
    """The push payload of a digest, cut to `max_items` lines after a 413."""
    from datetime import date

    if digest.kind == "test":
        return build_test_payload(url="/settings")
    events = [DigestEvent(**{**e, "due_on": date.fromisoformat(e["due_on"]) if e["due_on"] else None})
              for e in digest.payload["events"]]
    return build_digest_payload(events, today=date.fromisoformat(digest.payload["today"]), url="/",
                                urgent=digest.urgent, max_items=max_items)


# --- deliveries ---------------------------------------------------------------------------

def claim_due_deliveries(session: Session, at: datetime) -> list[Delivery]:
    """Lease due deliveries: their next_attempt_at moves past `at`, so no other pass takes them."""
    due = _skip_locked(select(Delivery.id).where(Delivery.status == "pending", Delivery.next_attempt_at <= at)
                       .order_by(Delivery.next_attempt_at).limit(BATCH), session)
    ids = session.scalars(update(Delivery).where(Delivery.id.in_(due.scalar_subquery()), Delivery.next_attempt_at <= at)
                          .values(next_attempt_at=at + LEASE, attempts=Delivery.attempts + 1)
                          .returning(Delivery.id), execution_options={"synchronize_session": False}).all()
    session.commit()  # the lease holds from here on, whatever happens to this process
    if not ids:
        return []
    return list(session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)))


def send_deliveries(session: Session, sender, deliveries: list[Delivery], topic_secret: str, at: datetime) -> dict[str, int]:
    """Send leased deliveries concurrently and record every answer; commits the results."""
    sendable, counts = [], {}
    for delivery in deliveries:
        if delivery.subscription is None:  # the device unsubscribed or was found gone meanwhile
            delivery.status = "gone"
            counts["gone"] = counts.get("gone", 0) + 1
        else:
            sendable.append(delivery)
    messages = [sender.message(
        delivery.subscription,
        payload=digest_payload(delivery.digest, delivery.max_items),
        ttl=delivery.digest.ttl,
        topic=topic_for(delivery.digest.user_id, topic_secret),
        urgency="high" if delivery.digest.urgent else "normal",
        attempt=delivery.attempts,
    ) for delivery in sendable]
    for delivery, outcome in zip(sendable, sender.send_all(messages), strict=True):
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
        session.add(DeliveryAttempt(delivery_id=delivery.id, at=at, status_code=outcome.status_code,
                                    outcome=outcome.kind, detail=outcome.detail))
        _apply_outcome(session, delivery, outcome, at)
    session.commit()
    return counts


def _apply_outcome(session: Session, delivery: Delivery, outcome, at: datetime) -> None:
    if outcome.kind == "delivered":
        delivery.status, delivery.delivered_at = "delivered", at
    elif outcome.kind == "gone":
        delivery.status = "gone"
        session.execute(delete(PushSubscription).where(PushSubscription.endpoint == delivery.subscription.endpoint))
    elif outcome.kind == "too_large":
        lines = delivery.max_items if delivery.max_items is not None else delivery.digest.line_count
        if lines <= 0:
            delivery.status = "failed"
        else:
            delivery.max_items, delivery.next_attempt_at = lines // 2, at
    else:  # retry later, honouring Retry-After, for at most a day
        give_up_at = delivery.digest.created_at + GIVE_UP_AFTER
        if outcome.retry_at is None or at >= give_up_at:
            delivery.status = "failed"
        else:
            delivery.next_attempt_at = min(outcome.retry_at, give_up_at)


def send_test_push(session: Session, sender, user: User, topic_secret: str) -> tuple[int, int]:
    """Push a test to each of the person's devices now, whatever the hour: they asked for it.

    Its deliveries are created already leased, so a running dispatcher does not send them too;
    if this request dies mid-send, the dispatcher retries them when the lease ends.
    """
    at = now()
    subscriptions = session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)).all()
    if not subscriptions:
        return 0, 0
    digest = Digest(user_id=user.id, kind="test", urgent=True, created_at=at, ttl=3600, payload={}, line_count=0)
    session.add(digest)
    session.flush()
    deliveries = [Delivery(digest=digest, subscription=s, attempts=1, next_attempt_at=at + LEASE) for s in subscriptions]
    session.add_all(deliveries)
    session.commit()
    outcomes = send_deliveries(session, sender, deliveries, topic_secret, at)
    return len(deliveries), outcomes.get("delivered", 0)


# --- a pass, and the loop ------------------------------------------------------------------

def tick(session: Session, sender, topic_secret: str, at: datetime | None = None, name: str = "dispatcher") -> PassReport:
    """One dispatcher pass: reminders, then due digests, then due deliveries; commits as it goes."""
    at = at or now()
    report = PassReport()
    report.reminders = promote_due_reminders(session, at)
    session.commit()
    while built := build_due_digests(session, at, topic_secret):
        report.digests += built
        session.commit()
    while deliveries := claim_due_deliveries(session, at):
        report.sent += len(deliveries)
        for kind, count in send_deliveries(session, sender, deliveries, topic_secret, at).items():
            report.outcomes[kind] = report.outcomes.get(kind, 0) + count
    heartbeat = session.get(DispatcherHeartbeat, name) or DispatcherHeartbeat(name=name)
    heartbeat.beat_at = now()
    session.add(heartbeat)
    session.commit()
    return report


def run(make_session, sender, topic_secret: str, interval: float = 15.0, should_stop=lambda: False) -> None:
    """Pass after pass until `should_stop()`; a failing pass is logged and retried next time."""
    while not should_stop():
        session = make_session()
        try:
            report = tick(session, sender, topic_secret)
            if report.digests or report.sent:
                log.info("push pass: %d digests, %d sends %s", report.digests, report.sent, report.outcomes)
        except Exception:
            log.exception("push pass failed; retrying in %.0f s", interval)
            session.rollback()
        finally:
            session.close()
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(1.0, interval))

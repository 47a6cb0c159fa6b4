"""The dispatcher: one pass (`tick`) turns due work into pushes; `run` repeats it.

Claims are atomic statements, so several dispatchers never take the same work: pending
digests are claimed by deleting them (FOR UPDATE SKIP LOCKED on PostgreSQL) in the same
transaction that builds the digest, and each delivery is leased by moving its
next_attempt_at forward before it is sent. A dispatcher killed mid-pass loses nothing: an
uncommitted claim rolls back, and an expired lease makes the delivery due again.
"""
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import available_timezones

from sqlalchemy import Text, and_, cast, delete, func, or_, select, union, update
from sqlalchemy.orm import Session, aliased

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
    Organization,
    PendingDigest,
    PushSubscription,
    User,
)
from webapp.notifications import outbox
from webapp.notifications.payload import DigestEvent, build_digest_payload, build_test_payload, topic_for
from webapp.notifications.schedule import NotificationSettings, first_digest_on, parse_hhmm, push_ttl
from webapp.services import review

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

    settings = {user_id: outbox.settings_for(person, preferences.get(user_id)) for user_id, person in people.items()}
    review_waiting = _review_waiting(session, at, people, settings)

    digests: list[tuple[Digest, list[Notification]]] = []
    for user_id, urgent in claimed:
        notes = waiting.get(user_id, [])
        review = review_waiting.get(user_id, 0)
        if not notes and not review:
            continue  # already carried by an earlier digest
        today = at.astimezone(settings[user_id].zone).date().isoformat()
        payload = {"events": [_event(note) for note in notes], "today": today}
        if review:
            payload["review"] = review
        digest = Digest(user_id=user_id, urgent=urgent, created_at=at, ttl=push_ttl(settings[user_id], at),
                        payload=payload, line_count=len({note.item_id for note in notes}) + (1 if review else 0))
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
                                urgent=digest.urgent, max_items=max_items,
                                review_waiting=digest.payload.get("review", 0))


# --- the weekly "Still needed?" line: in the first digest of each person's local Monday ---------------
#
# The line goes in the first digest built at or after the person's first digest slot of their local
# Monday. So that people with nothing else to be told hear of it too, each pass asks, once per new
# minute (digest slots fall on whole minutes), whose first Monday slot came since the last pass, and
# gives those with items that may wait for review a pending digest. Only zones where it is Monday and
# people with their own settings in them are looked at, never the whole organization.

WEEKLY_SWEEP = "weekly-review-sweep"  # a DispatcherHeartbeat row: when the last pass looked
FIRST_LOOK_BACK = timedelta(minutes=15)  # how far the very first pass looks back


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@cache
def _default_settings(time_zone: str) -> NotificationSettings:
    return NotificationSettings(time_zone=time_zone)


def _monday_slot(settings: NotificationSettings, at: datetime) -> datetime | None:
    """The first digest slot of the person's local Monday if it is Monday for them at `at`, else None."""
    local_day = at.astimezone(settings.zone).date()
    return _first_digest_on(settings, local_day) if local_day.weekday() == 0 else None


_first_digest_on = lru_cache(maxsize=4096)(first_digest_on)  # settings are few: most people keep the defaults


def _may_wait_for_review(session: Session, at: datetime):
    """A condition on Item that holds for every item up for review (and some more: the review decides)."""
    shortest = session.scalar(select(func.min(Organization.review_after_days))) or 0
    return and_(Item.status == "open",
                or_(Item.created_at < at - timedelta(days=shortest),
                    Item.due_on <= at.date() + timedelta(days=1 - review.OVERDUE_DAYS)))


def _reviewers(session: Session, at: datetime, people, organization_ids=None) -> set[int]:
    """Of `people` (ids, or a SELECT of them), those whose own or direct reports' open items may wait for review."""
    eligible = _may_wait_for_review(session, at)
    owner = aliased(User)
    owners = select(Item.owner_id.label("id")).where(eligible, Item.owner_id.in_(people))
    managers = (select(owner.manager_id.label("id")).join(Item, Item.owner_id == owner.id)
                .where(eligible, owner.manager_id.in_(people)))
    if organization_ids is not None:  # lets the reports be found by the (organization, manager) index
        managers = managers.where(owner.organization_id.in_(organization_ids))
    return set(session.scalars(select(union(owners, managers).subquery().c.id)))


def _review_waiting(session: Session, at: datetime, people: dict[int, User],
                    settings: dict[int, NotificationSettings]) -> dict[int, int]:
    """How many items wait for review, for each of `people` whose digest now is their first of their Monday."""
    firsts = {}
    for user_id in people:
        slot = _monday_slot(settings[user_id], at)
        if slot is not None and slot <= at:
            firsts[user_id] = slot
    if not firsts:
        return {}
    last = dict(session.execute(select(Digest.user_id, func.max(Digest.created_at))
                                .where(Digest.user_id.in_(firsts), Digest.kind == "digest")
                                .group_by(Digest.user_id)).all())
    first_today = [user_id for user_id, slot in firsts.items() if last.get(user_id) is None or last[user_id] < slot]
    if not first_today:
        return {}
    waiting = {}
    for user_id in _reviewers(session, at, first_today, {people[user_id].organization_id for user_id in first_today}):
        if count := review.waiting_count(session, people[user_id]):
            waiting[user_id] = count
    return waiting


def _claim_sweep(session: Session, at: datetime) -> datetime | None:
    """Until when the last pass looked, moved to `at` atomically (one dispatcher looks); None if no new minute began."""
    session.execute(outbox.upsert(session)(DispatcherHeartbeat).values(name=WEEKLY_SWEEP, beat_at=at - FIRST_LOOK_BACK)
                    .on_conflict_do_nothing(index_elements=[DispatcherHeartbeat.name]))
    since = session.scalar(select(DispatcherHeartbeat.beat_at).where(DispatcherHeartbeat.name == WEEKLY_SWEEP))
    if since.replace(second=0, microsecond=0) >= at.replace(second=0, microsecond=0):
        return None  # no digest slot falls between two instants of the same minute
    claimed = session.execute(update(DispatcherHeartbeat)
                              .where(DispatcherHeartbeat.name == WEEKLY_SWEEP, DispatcherHeartbeat.beat_at == since)
                              .values(beat_at=at), execution_options={"synchronize_session": False})
    return since if claimed.rowcount == 1 else None


def schedule_monday_digests(session: Session, at: datetime) -> int:
    """Give a pending digest at their first Monday slot to those whose items may wait for review; returns how many."""
    since = _claim_sweep(session, at)
    if since is None:
        return 0

    def came(slot: datetime | None) -> bool:
        return slot is not None and since < slot <= at

    monday_zones = [zone for zone in _zones() if at.astimezone(_default_settings(zone).zone).weekday() == 0]
    if not monday_zones:
        return 0
    due_zones = {zone for zone in monday_zones if came(_monday_slot(_default_settings(zone), at))}
    own_settings = session.execute(
        select(User.time_zone, NotificationPreferences.quiet_start, NotificationPreferences.quiet_end,
               cast(NotificationPreferences.quiet_days, Text), cast(NotificationPreferences.digest_times, Text))
        .join(User, User.id == NotificationPreferences.user_id)
        .where(User.time_zone.in_(monday_zones), NotificationPreferences.push_enabled)
        .distinct()
    ).all()
    for zone, quiet_start, quiet_end, quiet_days, digest_times in own_settings:
        settings = NotificationSettings(
            time_zone=zone, quiet_start=parse_hhmm(quiet_start), quiet_end=parse_hhmm(quiet_end),
            quiet_days=frozenset(json.loads(quiet_days)), digest_times=tuple(map(parse_hhmm, json.loads(digest_times))))
        if came(_monday_slot(settings, at)):
            due_zones.add(zone)
    if not due_zones:
        return 0

    in_due_zones = select(User.id).where(User.time_zone.in_(due_zones))
    reviewers = _reviewers(session, at, in_due_zones)
    scheduled = 0
    for person, preferences in session.execute(
            select(User, NotificationPreferences).outerjoin(NotificationPreferences,
                                                            NotificationPreferences.user_id == User.id)
            .where(User.id.in_(reviewers))):
        settings = outbox.settings_for(person, preferences)
        slot = _monday_slot(settings, at)
        if settings.push_enabled and came(slot):
            outbox.schedule_digest(session, person, slot, at, urgent=False, settings=settings)
            scheduled += 1
    return scheduled


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
        log.info("push delivery %s", outcome.kind, extra={  # ids only: never the endpoint or its keys
            "delivery_id": delivery.id, "digest_id": delivery.digest_id, "user_id": delivery.digest.user_id,
            "outcome": outcome.kind, "status_code": outcome.status_code, "attempt": delivery.attempts})
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
    schedule_monday_digests(session, at)
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

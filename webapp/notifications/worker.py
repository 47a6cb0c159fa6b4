"""The dispatcher: one pass (`tick`) turns due work into pushes; `run` repeats it.

Claims are atomic statements, so several dispatchers never take the same work: pending
digests are claimed by deleting them (FOR UPDATE SKIP LOCKED on PostgreSQL) in the same
transaction that builds the digest, and each delivery is leased before it is sent: born
leased in that transaction, or (a retry) by moving its next_attempt_at forward. A dispatcher
killed mid-pass loses nothing: an uncommitted claim rolls back, and an expired lease makes the
delivery due again.
"""
import json
import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import NamedTuple
from zoneinfo import available_timezones

from sqlalchemy import (
    Integer,
    Text,
    and_,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    update,
)
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
from webapp.models.types import UTCDateTime
from webapp.notifications import bulk, outbox
from webapp.notifications.payload import (
    DigestEvent,
    build_digest_payload,
    build_test_payload,
    encode_digest_payload,
    encode_payload,
    tag_for,
    topic_for,
)
from webapp.notifications.schedule import (
    NotificationSettings,
    first_digest_on,
    in_quiet_time,
    next_allowed_instant,
    parse_hhmm,
    push_ttl,
)
from webapp.services import review

log = logging.getLogger(__name__)

# Rows per claim: small enough that one batch's pushes go out while the next is built. Each statement
# of a batch has a fixed cost; 500 delivered 1,864 digests/s on PostgreSQL against 1,543 with 250
# (medians of nine interleaved passes of 1,000), the same on SQLite.
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
    return query.with_for_update(skip_locked=True) if bulk.on_postgresql(session) else query


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

def build_due_digests(session: Session, at: datetime, topic_secret: str, sender=None) -> "Built":
    """Claim due pending digests and turn each into a Digest with one Delivery per device.

    Every step is one statement for the whole batch (the claim with its people's settings, their
    devices, their notifications, then the writes), so the cost grows with the batch, not per row, and
    a batch costs a handful of round trips to the database. The deliveries are born leased to this
    pass, which sends them straight away: committing the batch commits the lease, as
    claim_due_deliveries does for the others.

    With `sender`, the pushes are handed to it before the batch is written, to be encrypted while the
    database writes; they are posted when start_deliveries releases them, after the commit (Built.planned).
    """
    claimed = _claim_due_digests(session, at)
    if not claimed:
        return Built(0, [], {})
    user_ids = [person.id for person in claimed]
    people = {person.id: person for person in claimed}
    settings = {person.id: _settings(person.time_zone, person.preferences) for person in claimed}
    devices: dict[int, list[Device]] = {}
    for user_id, *device in session.execute(
            select(PushSubscription.user_id, PushSubscription.id, PushSubscription.endpoint, PushSubscription.p256dh,
                   PushSubscription.auth)
            .where(bulk.in_ids(session, PushSubscription.user_id, user_ids)).order_by(PushSubscription.id)):
        devices.setdefault(user_id, []).append(Device(*device))
    actor = aliased(User)
    waiting: dict[int, list] = {}
    for note in session.execute(
            select(Notification.id, Notification.user_id, Notification.kind, Notification.urgent,
                   Item.id.label("item_id"), Item.title, Item.due_on, Item.priority, actor.name.label("actor"))
            .join(Item, Item.id == Notification.item_id).outerjoin(actor, actor.id == Notification.actor_id)
            .where(bulk.in_ids(session, Notification.user_id, user_ids), Notification.digest_id.is_(None))
            .order_by(Notification.id)):
        waiting.setdefault(note.user_id, []).append(note)
    review_waiting = _review_waiting(session, at, people, settings)

    rows, notes_of = [], []
    for person in claimed:
        user_id, urgent = person.id, person.urgent
        notes = waiting.get(user_id, [])
        review = review_waiting.get(user_id, 0)
        if not notes and not review:
            continue  # already carried by an earlier digest
        payload = {"events": [_event(note) for note in notes],
                   "today": at.astimezone(settings[user_id].zone).date().isoformat()}
        if review:
            payload["review"] = review
        rows.append({"user_id": user_id, "urgent": urgent, "kind": "digest", "created_at": at,
                     "ttl": _ttl(settings[user_id], at), "payload": payload,
                     "line_count": len({note.item_id for note in notes}) + (1 if review else 0)})
        notes_of.append(notes)
    if not rows:
        return Built(0, [], {})
    # Their ids come with the write; _write_batch returns them in this order (each row, then its devices).
    unwritten = [Leased(None, 1, None, None, row["user_id"], row["kind"], row["urgent"], row["payload"],
                        row["line_count"], row["ttl"], at, device)
                 for row in rows for device in devices.get(row["user_id"], [])]
    planned = _plan(sender, unwritten, topic_secret, at, settings, Future()) if sender is not None and unwritten else None
    try:
        sends = _write_batch(session, at, rows, notes_of, devices)
    except BaseException:
        if planned:
            planned.release(False)
        raise
    leased = [delivery._replace(id=delivery_id, digest_id=digest_id)
              for delivery, (delivery_id, digest_id) in zip(unwritten, sends, strict=True)]
    return Built(len(rows), leased, settings, planned)


def _write_batch(session: Session, at: datetime, rows: list[dict], notes_of: list[list],
                 devices: dict[int, list["Device"]]) -> list[tuple[int, int]]:
    """Write a batch's digests (`rows`), mark the notifications each carries (`notes_of`, by row) and give each
    digest one delivery per device of its person, born leased. Returns (delivery id, digest id) in the order
    of the rows and their devices.

    Core statements on the tables: the ORM's bulk paths would do per-row bookkeeping for objects never made.
    """
    if bulk.on_postgresql(session):
        return _write_batch_postgresql(session, at, rows, notes_of, devices)
    digest_ids = _insert_with_new_ids(session, Digest.__table__, rows)
    bulk.update_rows(session, Notification.__table__, "id", [
        {"id": note.id, "digest_id": digest_id} for digest_id, notes in zip(digest_ids, notes_of, strict=True)
        for note in notes])
    sends = [(digest_id, device) for digest_id, row in zip(digest_ids, rows, strict=True)
             for device in devices.get(row["user_id"], [])]
    delivery_ids = _insert_with_new_ids(session, Delivery.__table__, [
        {"digest_id": digest_id, "subscription_id": device.id, "status": "pending", "attempts": 1,
         "next_attempt_at": at + LEASE} for digest_id, device in sends]) if sends else []
    return [(delivery_id, digest_id) for delivery_id, (digest_id, _) in zip(delivery_ids, sends, strict=True)]


def _write_batch_postgresql(session: Session, at: datetime, rows: list[dict], notes_of: list[list],
                            devices: dict[int, list["Device"]]) -> list[tuple[int, int]]:
    """The three writes as one statement, a WITH of data-modifying parts: one round trip instead of five.

    Under load every round trip waits for the server's process to be scheduled, which costs more than the
    statement itself. The new rows' ids come back with what identifies them (a person has one digest per
    batch, and a device one delivery per digest); the foreign keys are checked when the statement ends,
    when the new digests are there to be referred to.
    """
    digests, deliveries, notifications = Digest.__table__, Delivery.__table__, Notification.__table__
    new_digests = (bulk.insert_from_rows(session, digests, rows)
                   .returning(digests.c.id, digests.c.user_id).cte("new_digests"))
    carried = (update(notifications)
               .where(bulk.in_ids(session, notifications.c.id, [note.id for notes in notes_of for note in notes]),
                      notifications.c.user_id == new_digests.c.user_id)
               .values(digest_id=new_digests.c.id).cte("carried"))
    pairs = [(row["user_id"], device.id) for row in rows for device in devices.get(row["user_id"], [])]
    sends = (func.unnest(bulk.int_array("send_user_ids", [user_id for user_id, _ in pairs]),
                         bulk.int_array("send_subscription_ids", [device_id for _, device_id in pairs]))
             .table_valued(column("user_id", Integer), column("subscription_id", Integer)).render_derived())
    new_deliveries = (insert(deliveries).from_select(
        ["digest_id", "subscription_id", "status", "attempts", "next_attempt_at"],
        select(new_digests.c.id, sends.c.subscription_id, literal("pending"), literal(1),
               literal(at + LEASE, UTCDateTime()))
        .join_from(new_digests, sends, sends.c.user_id == new_digests.c.user_id))
        .returning(deliveries.c.id, deliveries.c.digest_id, deliveries.c.subscription_id).cte("new_deliveries"))
    digest_of, delivery_of = {}, {}
    for user_id, digest_id, subscription_id, delivery_id in session.execute(
            select(new_digests.c.user_id, new_digests.c.id, new_deliveries.c.subscription_id, new_deliveries.c.id)
            .select_from(new_digests).outerjoin(new_deliveries, new_deliveries.c.digest_id == new_digests.c.id)
            .add_cte(carried)):
        digest_of[user_id] = digest_id
        delivery_of[user_id, subscription_id] = delivery_id
    return [(delivery_of[row["user_id"], device.id], digest_of[row["user_id"]])
            for row in rows for device in devices.get(row["user_id"], [])]


def _insert_with_new_ids(session: Session, table, rows: list[dict]) -> list[int]:
    """SQLite: INSERT the rows with their ids chosen first, so they go in as one executemany; returns the ids.

    Only within a transaction that has already written (build_due_digests' claim): the ids after the
    largest, which nobody else can take, since this transaction holds SQLite's single write lock until
    it commits. To return ids in order SQLAlchemy would otherwise insert row by row.
    """
    after = session.scalar(select(func.max(table.c.id))) or 0
    ids = list(range(after + 1, after + 1 + len(rows)))
    bulk.insert_rows(session, table, [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)])
    return ids


# A person's NotificationPreferences values as _own_settings takes them (all None where the person has no row)
_PREFERENCES = (NotificationPreferences.quiet_start, NotificationPreferences.quiet_end,
                cast(NotificationPreferences.quiet_days, Text).label("quiet_days"),
                cast(NotificationPreferences.digest_times, Text).label("digest_times"),
                NotificationPreferences.push_enabled)


class Claimed(NamedTuple):
    """A claimed pending digest, with what its digest needs of its person."""

    id: int  # the person's
    time_zone: str
    organization_id: int
    urgent: bool
    preferences: tuple  # the _PREFERENCES values


def _claim_due_digests(session: Session, at: datetime) -> list[Claimed]:
    """Claim (delete) up to BATCH due pending digests, and read their people and settings.

    On PostgreSQL that is one statement (the DELETE in its WITH), on SQLite two.
    """
    due = _skip_locked(select(PendingDigest.user_id).where(PendingDigest.due_at <= at)
                       .order_by(PendingDigest.due_at).limit(BATCH), session)
    claim = (delete(PendingDigest).where(PendingDigest.user_id.in_(due.scalar_subquery()))
             .returning(PendingDigest.user_id, PendingDigest.urgent))
    people = (select(User.id, User.time_zone, User.organization_id, *_PREFERENCES)
              .outerjoin(NotificationPreferences, NotificationPreferences.user_id == User.id))
    if bulk.on_postgresql(session):
        claimed = claim.cte("claimed")
        rows = session.execute(people.add_columns(claimed.c.urgent).join(claimed, claimed.c.user_id == User.id))
        return [Claimed(row[0], row[1], row[2], row[-1], tuple(row[3:-1])) for row in rows]
    urgent = dict(session.execute(claim).all())
    if not urgent:
        return []
    return [Claimed(row[0], row[1], row[2], urgent[row[0]], tuple(row[3:]))
            for row in session.execute(people.where(User.id.in_(urgent)))]


def _settings(time_zone: str, preferences: tuple) -> NotificationSettings:
    """Settings from a person's zone and _PREFERENCES values (None: the person keeps the defaults)."""
    return _default_settings(time_zone) if preferences[0] is None else _own_settings(time_zone, *preferences)


def _settings_of(session: Session, people: dict) -> dict[int, NotificationSettings]:
    """Each person's notification settings (people: rows or Users with id and time_zone), in one query.

    Columns, not ORM objects, the JSON ones as their text, and one NotificationSettings per distinct set
    of values: most people share a handful of schedules, and building one (parsing, zone lookup,
    validation) costs more than reading the row.
    """
    preferences = {user_id: values for user_id, *values in session.execute(
        select(NotificationPreferences.user_id, *_PREFERENCES)
        .where(bulk.in_ids(session, NotificationPreferences.user_id, people)))}
    return {user_id: _settings(person.time_zone, preferences.get(user_id, (None,)))
            for user_id, person in people.items()}


@lru_cache(maxsize=4096)
def _own_settings(time_zone: str, quiet_start: str, quiet_end: str, quiet_days: str, digest_times: str,
                  push_enabled: bool) -> NotificationSettings:
    """Settings from a NotificationPreferences row's values, its JSON lists as text (immutable, so shared)."""
    return outbox.settings_for(SimpleNamespace(time_zone=time_zone), SimpleNamespace(
        quiet_start=quiet_start, quiet_end=quiet_end, quiet_days=json.loads(quiet_days),
        digest_times=json.loads(digest_times), push_enabled=bool(push_enabled)))


_ttl = lru_cache(maxsize=4096)(push_ttl)  # one pass asks for the same few (settings, instant) pairs again and again


def _event(note) -> dict:
    """What a digest needs to know of one notification, frozen when the digest is built."""
    return {"item_id": note.item_id, "title": note.title, "kind": note.kind, "actor": note.actor,
            "due_on": note.due_on.isoformat() if note.due_on else None, "priority": note.priority,
            "urgent": note.urgent}


def digest_payload(digest, max_items: int | None = None, tag: str | None = None) -> dict:
    """The push payload of a digest (anything with its kind, payload and urgent), cut to `max_items` lines after a 413."""
    if digest.kind == "test":
        return build_test_payload(url="/settings", tag=tag)
    return build_digest_payload(**_digest_content(digest), max_items=max_items, tag=tag)


def digest_plaintext(digest, max_items: int | None = None, tag: str | None = None) -> bytes:
    """digest_payload's payload, encoded as it is pushed."""
    if digest.kind == "test":
        return encode_payload(build_test_payload(url="/settings", tag=tag))
    return encode_digest_payload(**_digest_content(digest), max_items=max_items, tag=tag)


def _digest_content(digest) -> dict:
    """What a digest's stored payload says, as build_digest_payload takes it."""
    events = [DigestEvent(e["item_id"], e["title"], e["kind"], e["actor"],
                          date.fromisoformat(e["due_on"]) if e["due_on"] else None, e["priority"], e["urgent"])
              for e in digest.payload["events"]]
    return {"events": events, "today": date.fromisoformat(digest.payload["today"]), "url": "/", "urgent": digest.urgent,
            "review_waiting": digest.payload.get("review", 0)}


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

# Device and Leased are NamedTuples, not dataclasses: a pass makes one of each per push, and a tuple is made
# in a fifth of the time of a frozen dataclass (whose __init__ sets each field through object.__setattr__).
class Device(NamedTuple):
    """A subscription as a push needs it."""

    id: int
    endpoint: str
    p256dh: str
    auth: str


class Leased(NamedTuple):
    """A delivery leased for sending, with its digest and device (None: the device unsubscribed meanwhile)."""

    id: int
    attempts: int
    max_items: int | None
    digest_id: int
    user_id: int
    kind: str
    urgent: bool
    payload: dict
    line_count: int
    digest_ttl: int
    created_at: datetime
    device: Device | None


@dataclass
class Planned:
    """Pushes handed to the sender, as indexes into their deliveries; held until released if `gate` is set."""

    sendable: list[int]
    postponed: list[int]  # quiet time now: sent later
    gone: list[int]       # the device unsubscribed meanwhile
    outcomes: Future
    gate: Future | None = None

    def release(self, go: bool) -> None:
        """Let the held pushes be posted (go) or dropped unsent; once only, so a later call does nothing."""
        if self.gate is not None and not self.gate.done():
            self.gate.set_result(go)


@dataclass(frozen=True)
class Built:
    """What one build_due_digests call made: how many digests, their leased deliveries, their people's
    settings, and (given a sender) their pushes, held until the batch is committed."""

    digests: int
    deliveries: list[Leased]
    settings: dict[int, NotificationSettings]
    planned: Planned | None = None


def claim_due_deliveries(session: Session, at: datetime) -> list[Leased]:
    """Lease due deliveries: their next_attempt_at moves past `at`, so no other pass takes them."""
    due = _skip_locked(select(Delivery.id).where(Delivery.status == "pending", Delivery.next_attempt_at <= at)
                       .order_by(Delivery.next_attempt_at).limit(BATCH), session)
    ids = session.scalars(update(Delivery).where(Delivery.id.in_(due.scalar_subquery()), Delivery.next_attempt_at <= at)
                          .values(next_attempt_at=at + LEASE, attempts=Delivery.attempts + 1)
                          .returning(Delivery.id), execution_options={"synchronize_session": False}).all()
    session.commit()  # the lease holds from here on, whatever happens to this process
    if not ids:
        return []
    rows = session.execute(
        select(Delivery.id, Delivery.attempts, Delivery.max_items, Digest.id, Digest.user_id, Digest.kind,
               Digest.urgent, Digest.payload, Digest.line_count, Digest.ttl, Digest.created_at,
               PushSubscription.id, PushSubscription.endpoint, PushSubscription.p256dh, PushSubscription.auth)
        .join(Digest, Digest.id == Delivery.digest_id)
        .outerjoin(PushSubscription, PushSubscription.id == Delivery.subscription_id)
        .where(Delivery.id.in_(ids)).order_by(Delivery.id))
    return [Leased(*row[:11], Device(*row[11:]) if row[11] is not None else None) for row in rows]


@dataclass
class InFlight:
    """Deliveries whose pushes are on their way; finish_deliveries records what came back."""

    sendable: list[Leased]
    postponed: list[Leased]
    gone: list[int]
    settings: dict[int, NotificationSettings]
    at: datetime
    outcomes: Future


def send_deliveries(session: Session, sender, deliveries: list[Leased], topic_secret: str, at: datetime) -> dict[str, int]:
    """Send leased deliveries concurrently and record every answer; commits the results."""
    return finish_deliveries(session, start_deliveries(session, sender, deliveries, topic_secret, at))


def start_deliveries(session: Session, sender, deliveries: list[Leased], topic_secret: str, at: datetime,
                     settings: dict[int, NotificationSettings] | None = None, planned: Planned | None = None) -> InFlight:
    """Hand the pushes of leased deliveries to the sender, without waiting for the answers.

    Quiet time is checked again at the moment of sending, so a retry or a lease that ran out never
    pushes into someone's quiet hours: it waits for their next allowed instant instead. The TTL is
    reckoned from now, until their next quiet period. `settings`: the people's settings when this
    pass has just read them (fresh digests), else they are read here. `planned`: the pushes
    build_due_digests handed over before the lease was committed, released now.
    """
    if settings is None:
        zones = dict(session.execute(select(User.id, User.time_zone)
                                     .where(User.id.in_({d.user_id for d in deliveries}))).all()) if deliveries else {}
        settings = _settings_of(session, {user_id: SimpleNamespace(time_zone=zone) for user_id, zone in zones.items()})
    if planned is None:
        planned = _plan(sender, deliveries, topic_secret, at, settings)
    else:
        planned.release(True)  # their deliveries' lease is committed: the pushes may go
    return InFlight([deliveries[i] for i in planned.sendable], [deliveries[i] for i in planned.postponed],
                    [deliveries[i].id for i in planned.gone], settings, at, planned.outcomes)


def _plan(sender, deliveries: list[Leased], topic_secret: str, at: datetime,
          settings: dict[int, NotificationSettings], gate: Future | None = None) -> Planned:
    """Sort deliveries into sendable, postponed (quiet time) and gone, and hand the sendable to the sender."""
    sendable, postponed, gone = [], [], []
    for index, delivery in enumerate(deliveries):
        if delivery.device is None:
            gone.append(index)  # the device unsubscribed or was found gone meanwhile
        elif delivery.kind != "test" and in_quiet_time(settings[delivery.user_id], at):
            postponed.append(index)
        else:
            sendable.append(index)
    payloads: dict[tuple[int, int | None, int | None], bytes] = {}
    messages = []
    for index in sendable:
        delivery = deliveries[index]
        key = (delivery.user_id, delivery.digest_id, delivery.max_items)  # digest_id: None before it is written
        topic = _topic(delivery.user_id, topic_secret)
        if key not in payloads:  # one digest, several devices: built and encoded once
            payloads[key] = digest_plaintext(delivery, delivery.max_items, tag=tag_for(topic))
        ttl = delivery.digest_ttl if delivery.kind == "test" else _ttl(settings[delivery.user_id], at)
        messages.append(sender.message(delivery.device, payload=payloads[key], ttl=ttl, topic=topic,
                                       urgency="high" if delivery.urgent else "normal", attempt=delivery.attempts))
    return Planned(sendable, postponed, gone, sender.submit(messages, release=gate), gate)


def finish_deliveries(session: Session, flight: InFlight) -> dict[str, int]:
    """Wait for the answers of `flight`, record every one and move each delivery on; commits."""
    outcomes = flight.outcomes.result()
    counts: dict[str, int] = {}
    record_outcomes(session, flight.sendable, outcomes, flight.at, flight.settings)
    if flight.gone:
        session.execute(update(Delivery).where(Delivery.id.in_(flight.gone)).values(status="gone"),
                        execution_options={"synchronize_session": False})
        counts["gone"] = len(flight.gone)
    for delivery in flight.postponed:
        _retry_later(session, delivery, flight.at, flight.at, flight.settings[delivery.user_id], attempted=False)
    if flight.postponed:
        counts["postponed"] = len(flight.postponed)
    for outcome in outcomes:
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
    session.commit()
    return counts


@lru_cache(maxsize=65536)
def _topic(user_id: int, secret: str) -> str:
    return topic_for(user_id, secret)


def record_outcomes(session: Session, sent: list[Leased], outcomes: list, at: datetime,
                    settings: dict[int, NotificationSettings]) -> None:
    """Every answer becomes a DeliveryAttempt row; deliveries move on by their answer, in a few statements."""
    delivered = []
    for delivery, outcome in zip(sent, outcomes, strict=True):
        # The log tells of the answers that need a look (INFO) and, at DEBUG only, of each push delivered:
        # at INFO a pass at 09:00 would write a line per person, in the dispatcher's busiest second, to say
        # what its summary line says. Ids only: never the endpoint or its keys.
        level = logging.DEBUG if outcome.kind == "delivered" else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "push delivery %s", outcome.kind, extra={
                "delivery_id": delivery.id, "digest_id": delivery.digest_id, "user_id": delivery.user_id,
                "outcome": outcome.kind, "status_code": outcome.status_code, "attempt": delivery.attempts})
        if outcome.kind == "delivered":
            delivered.append(delivery.id)
        else:
            _apply_outcome(session, delivery, outcome, at, settings[delivery.user_id])
    attempts = [{"delivery_id": delivery.id, "at": at, "status_code": outcome.status_code, "outcome": outcome.kind,
                 "detail": outcome.detail} for delivery, outcome in zip(sent, outcomes, strict=True)]
    if not delivered:
        bulk.insert_rows(session, DeliveryAttempt.__table__, attempts)
        return
    deliveries = Delivery.__table__
    done = update(deliveries).where(bulk.in_ids(session, deliveries.c.id, delivered)).values(status="delivered",
                                                                                              delivered_at=at)
    if bulk.on_postgresql(session):  # one round trip: the attempts' INSERT in the WITH of the UPDATE
        session.execute(done.add_cte(bulk.insert_from_rows(session, DeliveryAttempt.__table__, attempts).cte("tried")))
    else:
        bulk.insert_rows(session, DeliveryAttempt.__table__, attempts)
        session.execute(done)


def _apply_outcome(session: Session, delivery: Leased, outcome, at: datetime, settings: NotificationSettings) -> None:
    if outcome.kind == "gone":
        _set(session, delivery, status="gone")
        session.execute(delete(PushSubscription).where(PushSubscription.endpoint == delivery.device.endpoint))
    elif outcome.kind == "too_large":
        lines = delivery.max_items if delivery.max_items is not None else delivery.line_count
        if lines <= 0:
            _set(session, delivery, status="failed")
        else:
            _set(session, delivery, max_items=lines // 2, next_attempt_at=at)
    elif outcome.kind == "retry" and outcome.retry_at is not None:  # honouring Retry-After, for at most a day
        _retry_later(session, delivery, outcome.retry_at, at, settings)
    else:  # rejected, or a retry with nowhere to go
        _set(session, delivery, status="failed")


def _retry_later(session: Session, delivery: Leased, when: datetime, at: datetime, settings: NotificationSettings,
                 attempted: bool = True) -> None:
    """Send again at `when`, or the person's next instant outside quiet time after it, if that is within a
    day of the digest; else give up (the inbox has it all)."""
    give_up_at = delivery.created_at + GIVE_UP_AFTER
    when = min(when, give_up_at)
    if delivery.kind != "test":  # a test push was asked for now, whatever the hour
        when = next_allowed_instant(settings, when)
    if when is None or at >= give_up_at or when > give_up_at:
        _set(session, delivery, status="failed")
        return
    values = {"next_attempt_at": when}
    if not attempted:  # leased but never sent: the lease does not count as an attempt
        values["attempts"] = delivery.attempts - 1
    _set(session, delivery, **values)


def _set(session: Session, delivery: Leased, **values) -> None:
    session.execute(update(Delivery).where(Delivery.id == delivery.id).values(**values),
                    execution_options={"synchronize_session": False})


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
    session.flush()
    leased = [Leased(d.id, 1, None, digest.id, user.id, "test", True, {}, 0, 3600, at,
                     Device(s.id, s.endpoint, s.p256dh, s.auth)) for d, s in zip(deliveries, subscriptions, strict=True)]
    session.commit()
    outcomes = send_deliveries(session, sender, leased, topic_secret, at)
    return len(deliveries), outcomes.get("delivered", 0)


# --- a pass, and the loop ------------------------------------------------------------------

def tick(session: Session, sender, topic_secret: str, at: datetime | None = None, name: str = "dispatcher") -> PassReport:
    """One dispatcher pass: reminders, then due digests, then due deliveries; commits as it goes.

    The pass runs on one database connection of `session`'s engine, held from its first statement to its
    last: a session gives its connection back to the pool at every commit, and the pool checks one out
    with a ping (pool_pre_ping), a round trip per transaction that a pass of a dozen would otherwise pay.
    """
    with session.get_bind().connect() as connection, Session(bind=connection) as pass_session:
        return _tick(pass_session, sender, topic_secret, at or now(), name)


def _tick(session: Session, sender, topic_secret: str, at: datetime, name: str) -> PassReport:
    report = PassReport()
    report.reminders = promote_due_reminders(session, at)
    schedule_monday_digests(session, at)
    session.commit()
    # Batches overlap: while one batch's pushes are out, the next digests are built, leased and handed
    # to the senders too, and only then are the first batch's answers recorded, so the senders do not
    # wait while the database records. At most two batches are on their way.
    flights: list[InFlight] = []  # oldest first
    try:
        while True:
            built = build_due_digests(session, at, topic_secret, sender)
            report.digests += built.digests
            deliveries, settings, planned = built.deliveries, built.settings, built.planned
            try:
                if built.digests:
                    session.commit()  # the digests, and the lease on their deliveries
                else:
                    # New digests first; then retries, 413s cut shorter, leases that ran out. The claim's
                    # commit also commits what the build found (pending digests already carried).
                    deliveries, settings = claim_due_deliveries(session, at), None
                if deliveries:
                    report.sent += len(deliveries)
                    flights.append(start_deliveries(session, sender, deliveries, topic_secret, at, settings, planned))
            finally:
                if planned:
                    planned.release(False)  # not committed, or not started: the held pushes are dropped
            if len(flights) > 1 or (flights and not deliveries):
                counts = finish_deliveries(session, flights.pop(0))
                _add_outcomes(report, counts)
                if not flights and not deliveries and not counts.get("too_large"):
                    break  # this round found nothing new, and only a 413 makes a delivery due again within the pass
            elif not deliveries:
                break
    except BaseException:
        if flights:  # record what is already on its way, so it is not sent again when the lease ends
            session.rollback()
            for flight in flights:
                try:
                    finish_deliveries(session, flight)
                except Exception:  # noqa: BLE001 - the first failure is the one to report
                    log.exception("could not record the pushes of a failed pass; they are retried when the lease ends")
                    session.rollback()
        raise
    heartbeat = session.get(DispatcherHeartbeat, name) or DispatcherHeartbeat(name=name)
    heartbeat.beat_at = now()
    session.add(heartbeat)
    session.commit()
    return report


def _add_outcomes(report: PassReport, counts: dict[str, int]) -> None:
    for kind, count in counts.items():
        report.outcomes[kind] = report.outcomes.get(kind, 0) + count


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

"""Writing notification work in the same transaction as the change that caused it.

Each event becomes one inbox entry per person told (never the actor), and moves that person's
single pending-digest row (an atomic upsert under user_id) to the earliest instant their own
schedule allows. The dispatcher (worker.py) later claims due rows and sends.
"""
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import case, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from webapp.clock import now
from webapp.models import DueReminder, Item, Notification, NotificationPreferences, PendingDigest, User
from webapp.notifications import bulk
from webapp.notifications.schedule import NotificationSettings, due_reminder_at, next_delivery_at, parse_hhmm

# What a change tells the owner and the creator, by the most telling change in it.
KIND_BY_ACTION = {"completed": "completed", "dropped": "dropped", "reopened": "reopened"}


def settings_for(user: User, preferences: NotificationPreferences | None) -> NotificationSettings:
    if preferences is None:
        return NotificationSettings(time_zone=user.time_zone)
    return NotificationSettings(
        time_zone=user.time_zone,
        quiet_start=parse_hhmm(preferences.quiet_start),
        quiet_end=parse_hhmm(preferences.quiet_end),
        quiet_days=frozenset(preferences.quiet_days),
        digest_times=tuple(parse_hhmm(t) for t in preferences.digest_times),
        push_enabled=preferences.push_enabled,
    )


def load_settings(session: Session, user: User) -> NotificationSettings:
    return settings_for(user, session.get(NotificationPreferences, user.id))


def upsert(session: Session):
    """The dialect's INSERT that has on_conflict_do_update / on_conflict_do_nothing."""
    return postgresql.insert if bulk.on_postgresql(session) else sqlite.insert


def schedule_digest(session: Session, user: User, since: datetime, at: datetime, urgent: bool,
                    settings: NotificationSettings | None = None) -> None:
    """Make sure the person's pending digest is due no later than their schedule allows for this event."""
    settings = settings or load_settings(session, user)
    if not settings.push_enabled:
        return  # the inbox has it; nothing is pushed
    due_at = next_delivery_at(settings, since, at, urgent=urgent)
    if due_at is None:
        return  # every slot is quiet: inbox only
    statement = upsert(session)(PendingDigest).values(user_id=user.id, due_at=due_at, pending_since=since, urgent=urgent)
    new = statement.excluded
    session.execute(statement.on_conflict_do_update(
        index_elements=[PendingDigest.user_id],
        set_={
            "due_at": case((new.due_at < PendingDigest.due_at, new.due_at), else_=PendingDigest.due_at),
            "pending_since": case((new.pending_since < PendingDigest.pending_since, new.pending_since),
                                  else_=PendingDigest.pending_since),
            "urgent": or_(PendingDigest.urgent, new.urgent),
        },
    ))


def notify(session: Session, item: Item, actor: User, kind: str, recipients: Iterable[User], urgent: bool = False) -> None:
    """Tell each recipient except the actor: an inbox entry now, a line in their next push."""
    at = now()
    told = set()
    for person in recipients:
        if person.id == actor.id or person.id in told:
            continue
        told.add(person.id)
        session.add(Notification(user_id=person.id, item_id=item.id, actor_id=actor.id, kind=kind, urgent=urgent,
                                 created_at=at))
        schedule_digest(session, person, at, at, urgent)


def item_added(session: Session, item: Item, actor: User) -> None:
    notify(session, item, actor, "added", [item.owner], urgent=item.urgent)
    remind_when_due(session, item)


def remind(session: Session, item: Item, actor: User) -> None:
    """A nudge about an open item ("reminder from Dana"): a line in the owner's next digest, never urgent."""
    notify(session, item, actor, "reminder", [item.owner], urgent=False)


def item_changed(session: Session, item: Item, actor: User, action: str, changes: dict) -> None:
    """Notify the owner (and the creator) of a change someone else made."""
    if "owner_id" in changes:
        notify(session, item, actor, "reassigned", [item.owner], urgent=item.urgent)
    elif changes.get("urgent") == (False, True):
        notify(session, item, actor, "urgent", [item.owner], urgent=True)
    kind = KIND_BY_ACTION.get(action) or next(
        (k for field, k in (("due_on", "due_changed"), ("priority", "priority_changed")) if field in changes), None)
    if kind:
        notify(session, item, actor, kind, [item.owner, item.created_by])
    if {"due_on", "status", "owner_id"} & changes.keys():
        remind_when_due(session, item)


def remind_when_due(session: Session, item: Item) -> None:
    """Keep the item's 'due today' reminder in step with its due date, status and owner."""
    session.execute(delete(DueReminder).where(DueReminder.item_id == item.id))
    if item.status != "open" or item.due_on is None:
        return
    remind_at = due_reminder_at(load_settings(session, item.owner), item.due_on)
    if remind_at is not None and remind_at > now():
        session.add(DueReminder(item_id=item.id, user_id=item.owner_id, remind_at=remind_at))


def reschedule(session: Session, user: User) -> None:
    """After a change of zone or schedule: recompute the pending digest and due-date reminders."""
    pending = session.get(PendingDigest, user.id)
    if pending is not None:
        since, urgent = pending.pending_since, pending.urgent
        session.delete(pending)
        session.flush()
        schedule_digest(session, user, since, now(), urgent)
    open_items = session.scalars(select(Item).where(Item.owner_id == user.id, Item.status == "open",
                                                     Item.due_on.is_not(None)))
    for item in open_items:
        remind_when_due(session, item)

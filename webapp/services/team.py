"""The team at a glance: each person's load before you add more, and the interruptions Plate saved them.

Both read a fixed number of queries however large the team: the people (with their notification
settings) in one, their counts in one grouped query.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from webapp.auth import permissions
from webapp.clock import now
from webapp.models import (
    PRIORITIES,
    Digest,
    Item,
    Notification,
    NotificationPreferences,
    User,
)
from webapp.notifications import outbox
from webapp.notifications.schedule import in_quiet_time, next_digest_at

DONE_WINDOW = timedelta(days=7)


@dataclass
class Workload:
    person: User
    local_time: str
    in_quiet_hours: bool
    next_digest_at: datetime | None
    open: dict[str, int]
    overdue: int
    due_this_week: int
    done_last_7_days: int
    oldest_open_days: int | None


def _sunday(day: date) -> date:
    return day + timedelta(days=6 - day.weekday())


def _possible_todays(at: datetime) -> tuple[date, date, date]:
    """Every zone's today is UTC's today or the day either side (UTC-12 to UTC+14)."""
    utc_today = at.date()
    return utc_today - timedelta(days=1), utc_today, utc_today + timedelta(days=1)


def _counts(session: Session, owner_ids, at: datetime) -> dict[int, dict]:
    """Every count of the workload per owner in one grouped query.

    "Overdue" and "due this week" depend on the owner's local today, which is one of three dates:
    the query sums both for each of them, and the caller picks the sums for the owner's own today.
    """
    is_open = Item.status == "open"

    def number(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns = {f"open_{p}": number(and_(is_open, Item.priority == p)) for p in PRIORITIES}
    for n, day in enumerate(_possible_todays(at)):
        columns[f"overdue_{n}"] = number(and_(is_open, Item.due_on < day))
        columns[f"week_{n}"] = number(and_(is_open, Item.due_on >= day, Item.due_on <= _sunday(day)))
    columns["done_recently"] = number(and_(Item.status == "done", Item.completed_at >= at - DONE_WINDOW))
    columns["oldest_open"] = func.min(case((is_open, Item.created_at)))
    rows = session.execute(
        select(Item.owner_id, *(column.label(name) for name, column in columns.items()))
        .where(Item.owner_id.in_(owner_ids),
               or_(is_open, and_(Item.status == "done", Item.completed_at >= at - DONE_WINDOW)))
        .group_by(Item.owner_id)
    )
    return {row.owner_id: row._asdict() for row in rows}


def workload(session: Session, actor: User, depth: str) -> list[Workload]:
    """One row per person below the actor: direct reports (depth "1") or everyone below ("all"), by name."""
    at = now()
    below = User.manager_id == actor.id if depth == "1" else User.id.in_(permissions.ids_below(actor.id))
    people = session.execute(
        select(User, NotificationPreferences)
        .outerjoin(NotificationPreferences, NotificationPreferences.user_id == User.id)
        .where(User.organization_id == actor.organization_id, below)
        .order_by(User.name, User.id)
    ).all()
    counts = _counts(session, select(User.id).where(User.organization_id == actor.organization_id, below), at)
    rows = []
    for person, preferences in people:
        settings = outbox.settings_for(person, preferences)
        local_now = at.astimezone(settings.zone)
        n = _possible_todays(at).index(local_now.date())
        c = counts.get(person.id)
        oldest = c["oldest_open"] if c else None
        rows.append(Workload(
            person=person,
            local_time=local_now.isoformat(timespec="seconds"),
            in_quiet_hours=in_quiet_time(settings, at),
            next_digest_at=next_digest_at(settings, at) if settings.push_enabled else None,
            open={p: c[f"open_{p}"] if c else 0 for p in PRIORITIES},
            overdue=c[f"overdue_{n}"] if c else 0,
            due_this_week=c[f"week_{n}"] if c else 0,
            done_last_7_days=c["done_recently"] if c else 0,
            oldest_open_days=(at - oldest).days if oldest is not None else None,
        ))
    return rows


# --- interruptions saved --------------------------------------------------------------------

@dataclass
class Interruptions:
    days: int
    people: int
    items: int
    digests: int
    urgent_pushes: int
    items_per_push: float | None
    text: str


def _quantity(n: int, singular: str, plural: str) -> str:
    return f"no {plural}" if n == 0 else f"{n} {singular if n == 1 else plural}"


def describe_interruptions(days: int, items: int, digests: int, urgent: int) -> str:
    """E.g. "42 items reached your team in 9 digests and 1 urgent push" (each push counted once)."""
    if items == 0:
        return f"No items reached your team in the last {'day' if days == 1 else f'{days} days'}"
    reached = f"{_quantity(items, 'item', 'items')} reached your team"
    if digests == 0 and urgent == 0:
        return f"{reached} without a single push"
    urgent_pushes = _quantity(urgent, "urgent push", "urgent pushes")
    if digests == 0:
        return f"{reached} in {urgent_pushes}"
    return f"{reached} in {_quantity(digests, 'digest', 'digests')} and {urgent_pushes}"


def interruptions(session: Session, actor: User, days: int) -> Interruptions:
    """What reached the people below the actor in the last `days` days, and how few pushes carried it.

    The items are those others added to their plates in the window; the pushes are the digests
    (urgent or not) in which those items reached their owners, each counted once however many of
    the items it carried. A push that carried none of them is not counted.
    """
    since = now() - timedelta(days=days)
    below = permissions.ids_below(actor.id).scalar_subquery()
    reached = (Item.owner_id.in_(below), Item.created_by_id != Item.owner_id, Item.created_at >= since)
    people = session.scalar(select(func.count()).select_from(User).where(User.id.in_(below)))
    items = session.scalar(select(func.count()).select_from(Item).where(*reached))
    carriers = (
        select(Notification.digest_id)
        .join(Item, Item.id == Notification.item_id)
        .where(*reached, Notification.user_id == Item.owner_id, Notification.digest_id.is_not(None))
    )
    digests, urgent = session.execute(
        select(func.coalesce(func.sum(case((Digest.urgent, 0), else_=1)), 0),
               func.coalesce(func.sum(case((Digest.urgent, 1), else_=0)), 0))
        .where(Digest.id.in_(carriers), Digest.kind == "digest", Digest.created_at >= since)
    ).one()
    pushes = digests + urgent
    per_push = round(items / pushes, 2) if pushes else None
    return Interruptions(days, people, items, digests, urgent, per_push,
                         describe_interruptions(days, items, digests, urgent))

"""The record of a person's finished work over a period, for reviews: a summary, done per week, and the list.

A period is a range of local dates in the person's zone, read as the UTC instants from the start of its
first day to the end of its last. The record holds the items finished in it (done or dropped), read in
one query that walks the (owner, status, completed_at / dropped_at) indexes, so its cost follows the
size of the period's record, not of the person's whole history. Everything else is counted from those rows.
"""
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session, aliased

from webapp.auth import permissions
from webapp.clock import local_today
from webapp.models import Item, User
from webapp.services.errors import Forbidden, Invalid
from webapp.services.people import get_person
from webapp.services.review import NO_LONGER_NEEDED

MAX_YEARS = 5


class PersonName(NamedTuple):
    id: int
    name: str


@dataclass(frozen=True)
class Period:
    start: date  # first day, inclusive
    end: date  # last day, inclusive
    starts_at: datetime  # UTC instant of the first day's start in the person's zone
    ends_at: datetime  # UTC instant of the day after the last day's start (exclusive)


@dataclass
class RecordItem:
    id: int
    title: str
    priority: str
    status: str  # done or dropped
    created_by: PersonName
    created_at: datetime
    due_on: date | None
    completed_at: datetime | None
    dropped_at: datetime | None
    drop_reason: str | None
    drop_kind: str | None
    finished_on: date  # local date in the person's zone
    on_time: bool | None  # done on or before due_on; None without a due date or when dropped


@dataclass
class Summary:
    done: int
    done_on_time: int
    done_late: int
    dropped: int
    dropped_no_longer_needed: int
    median_days_to_done: float | None
    added_by_self: int  # of the items in the record, those the person put on their own plate
    added_by_others: int


@dataclass
class WeekDone:
    week_start: date  # a Monday
    done: int


@dataclass
class Record:
    person: User
    period: Period
    summary: Summary
    weekly_done: list[WeekDone]
    items: list[RecordItem]


# --- who and when --------------------------------------------------------------------------

def record_person(session: Session, actor: User, person_id: int) -> User:
    """The person whose record the actor asks for: themselves or someone below them."""
    person = get_person(session, actor, person_id)
    if not permissions.may_view_plate(session, actor, person):
        raise Forbidden(f"Only {person.name} and their managers may see this record.")
    return person


def quarter_of(day: date) -> tuple[date, date]:
    """The first and last day of the calendar quarter `day` falls in."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    next_start = date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    return start, next_start - timedelta(days=1)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return date(day.year + years, 3, 1)


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def period_for(person: User, start: date | None, end: date | None) -> Period:
    """The period asked for: by default the person's current quarter; `from` alone defaults `to` to
    the end of that quarter, `to` alone defaults `from` to the first day of its own quarter."""
    if end is None:
        end = quarter_of(local_today(person.time_zone))[1]
    if start is None:
        start = quarter_of(end)[0]
    if start > end:
        raise Invalid("from", "The period starts after it ends: 'from' must be on or before 'to'.", "query")
    if end >= _years_later(start, MAX_YEARS):
        raise Invalid("to", f"A record covers at most {MAX_YEARS} years; pick a shorter period.", "query")
    zone = ZoneInfo(person.time_zone)
    return Period(start, end, _start_of(start, zone), _start_of(end + timedelta(days=1), zone))


# --- the record ----------------------------------------------------------------------------

def _finished_rows(session: Session, person: User, period: Period):
    """Rows of the items finished in the period, newest first: one query, each half on its own index."""
    creator = aliased(User)

    def finished(status: str, finished_at):
        return (
            select(Item.id, Item.title, Item.priority, Item.status, Item.created_by_id,
                   creator.name.label("created_by_name"), Item.created_at, Item.due_on, Item.completed_at,
                   Item.dropped_at, Item.drop_reason, Item.drop_kind, finished_at.label("finished_at"))
            .join(creator, creator.id == Item.created_by_id)
            .where(Item.owner_id == person.id, Item.status == status,
                   finished_at >= period.starts_at, finished_at < period.ends_at)
        )

    rows = union_all(finished("done", Item.completed_at), finished("dropped", Item.dropped_at)).subquery()
    query = select(rows).order_by(rows.c.finished_at.desc(), rows.c.id.desc())
    return session.execute(query).all()


def _record_item(row, zone: ZoneInfo) -> RecordItem:
    finished_on = row.finished_at.astimezone(zone).date()
    on_time = None if row.status != "done" or row.due_on is None else finished_on <= row.due_on
    return RecordItem(
        id=row.id, title=row.title, priority=row.priority, status=row.status,
        created_by=PersonName(row.created_by_id, row.created_by_name), created_at=row.created_at, due_on=row.due_on,
        completed_at=row.completed_at, dropped_at=row.dropped_at, drop_reason=row.drop_reason, drop_kind=row.drop_kind,
        finished_on=finished_on, on_time=on_time,
    )


def summarize(person: User, items: list[RecordItem]) -> Summary:
    done = [item for item in items if item.status == "done"]
    dropped = [item for item in items if item.status == "dropped"]
    days_to_done = [(item.completed_at - item.created_at).total_seconds() / 86400 for item in done]
    added_by_self = sum(item.created_by.id == person.id for item in items)
    return Summary(
        done=len(done),
        done_on_time=sum(item.on_time is True for item in done),
        done_late=sum(item.on_time is False for item in done),
        dropped=len(dropped),
        dropped_no_longer_needed=sum(item.drop_kind == NO_LONGER_NEEDED for item in dropped),
        median_days_to_done=round(statistics.median(days_to_done), 1) if days_to_done else None,
        added_by_self=added_by_self,
        added_by_others=len(items) - added_by_self,
    )


def weekly_done(period: Period, items: list[RecordItem]) -> list[WeekDone]:
    """Items done per week (Monday to Sunday, local), for every week the period touches, empty ones too."""
    first_monday = period.start - timedelta(days=period.start.weekday())
    weeks = {first_monday + timedelta(weeks=n): 0
             for n in range((period.end - first_monday).days // 7 + 1)}
    for item in items:
        if item.status == "done":
            weeks[item.finished_on - timedelta(days=item.finished_on.weekday())] += 1
    return [WeekDone(week_start, done) for week_start, done in weeks.items()]


def record(session: Session, person: User, start: date | None = None, end: date | None = None) -> Record:
    """The record of `person` (see record_person for who may read it) over a period of their local dates."""
    period = period_for(person, start, end)
    zone = ZoneInfo(person.time_zone)
    items = [_record_item(row, zone) for row in _finished_rows(session, person, period)]
    return Record(person, period, summarize(person, items), weekly_done(period, items), items)

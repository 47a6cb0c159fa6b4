"""When a person may be notified: pure functions of (settings, instant), UTC in and out, zoneinfo inside.

Rules (issue 5), and the decisions taken where the issue is silent:

* Quiet time is judged on the person's local wall clock, in their IANA zone, computed per date.
  An instant is quiet when its local calendar day is a quiet day (ISO weekday, the whole day
  00:00-24:00) *or* its local time of day is inside the quiet hours. Quiet hours include their
  start, exclude their end, may cross midnight, and apply on every day; start == end means none.
  Quiet days and quiet hours are a plain union, so with the defaults (18:00-08:00, days 6 and 7)
  Friday 18:00 -> Monday 08:00 is one quiet stretch: Friday evening by hours, the weekend by days,
  Monday's early morning by hours.
* Because quiet time follows the wall clock, a DST fold can make a short stretch quiet twice
  (the repeated hour is judged by its wall time both times); a DST gap skips the wall times in it.
* A digest slot is a (local date, digest time). It happens when the wall clock first reaches that
  time on that date: at its first occurrence in a fold (so once), and at the end of a gap (the first
  valid instant after it) when it falls in one. Slots are recomputed from local date + local time,
  never "last + 24h". A slot is skipped when its wall time is quiet, or when the instant it is
  delivered at is (possible only for a slot moved by a gap).
* "Never" is a value: with all seven days quiet, or every digest time inside quiet hours, there is
  no next slot (None). The caller then keeps the events in the in-app inbox only. Every search
  here is bounded, so nothing can loop forever.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_TTL = 3600
MAX_TTL = 86400
MAX_DIGEST_TIMES = 6
ALL_DAYS = frozenset(range(1, 8))
# A quiet stretch lasts at most six quiet days plus the quiet hours around them; two weeks of
# local dates is always enough to find what exists, and bounds every search.
SEARCH_DAYS = 15
_OFFSET_STEP = 6 * 3600  # zones change offset at most once in six hours
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class InvalidSettings(ValueError):
    """A settings value that cannot be used; `field` names it for a 422 answer."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_hhmm(value: str, field: str = "time") -> time:
    """'HH:MM' (24 h, two digits each) as a time; anything else raises InvalidSettings."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidSettings(field, f"{value!r} is not a time of day as HH:MM.")
    return time(int(match[1]), int(match[2]))


def format_hhmm(value: time) -> str:
    return value.strftime("%H:%M")


@dataclass(frozen=True)
class NotificationSettings:
    """One person's notification settings, normalized and validated on construction."""

    time_zone: str
    quiet_start: time = time(18, 0)
    quiet_end: time = time(8, 0)
    quiet_days: frozenset[int] = frozenset({6, 7})
    digest_times: tuple[time, ...] = (time(9, 0), time(13, 0), time(16, 30))
    push_enabled: bool = True
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone) if isinstance(self.time_zone, str) and self.time_zone else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            raise InvalidSettings("time_zone", f"{self.time_zone!r} is not an IANA time zone.")
        for name in ("quiet_start", "quiet_end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise InvalidSettings("quiet_hours", f"{name} must be a local time of day.")
        days = frozenset(self.quiet_days)
        if not days <= ALL_DAYS or any(isinstance(d, bool) for d in days):
            raise InvalidSettings("quiet_days", "Quiet days are ISO weekdays, 1 (Monday) to 7 (Sunday).")
        digests = tuple(sorted(set(self.digest_times)))
        if not 1 <= len(digests) <= MAX_DIGEST_TIMES:
            raise InvalidSettings("digest_times", f"Give 1 to {MAX_DIGEST_TIMES} digest times.")
        if any(not isinstance(t, time) or t.tzinfo is not None for t in digests):
            raise InvalidSettings("digest_times", "Digest times must be local times of day.")
        object.__setattr__(self, "quiet_days", days)
        object.__setattr__(self, "digest_times", digests)
        object.__setattr__(self, "push_enabled", bool(self.push_enabled))
        object.__setattr__(self, "zone", zone)


# --- quiet time ----------------------------------------------------------------------------

def in_quiet_hours(settings: NotificationSettings, local_time: time) -> bool:
    """Whether a local time of day is inside the daily quiet hours (start included, end excluded)."""
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


def is_quiet_wall_time(settings: NotificationSettings, local: datetime) -> bool:
    """Whether a local wall-clock date and time (naive or aware, read as is) is quiet."""
    return local.isoweekday() in settings.quiet_days or in_quiet_hours(settings, local.time())


def in_quiet_time(settings: NotificationSettings, instant: datetime) -> bool:
    """Whether an instant is quiet for this person, judged on their own wall clock."""
    return is_quiet_wall_time(settings, _local(settings, instant))


def never_quiet(settings: NotificationSettings) -> bool:
    return not settings.quiet_days and settings.quiet_start == settings.quiet_end


def always_quiet(settings: NotificationSettings) -> bool:
    return settings.quiet_days == ALL_DAYS


def next_quiet_start(settings: NotificationSettings, instant: datetime) -> datetime | None:
    """The first instant at or after `instant` that is quiet (`instant` itself if it already is); None if never."""
    if in_quiet_time(settings, instant):
        return _utc(instant)
    if never_quiet(settings):
        return None
    return next((c for c in _change_points(settings, instant) if in_quiet_time(settings, c)), None)


def next_allowed_instant(settings: NotificationSettings, instant: datetime) -> datetime | None:
    """The first instant at or after `instant` outside quiet time (for urgent items); None if never."""
    if not in_quiet_time(settings, instant):
        return _utc(instant)
    if always_quiet(settings):
        return None
    return next((c for c in _change_points(settings, instant) if not in_quiet_time(settings, c)), None)


def push_ttl(settings: NotificationSettings, instant: datetime) -> int:
    """Seconds a push sent at `instant` may wait at the push service: until quiet time, within [1 h, 24 h]."""
    quiet = next_quiet_start(settings, instant)
    if quiet is None:
        return MAX_TTL
    return max(MIN_TTL, min(MAX_TTL, int((quiet - _utc(instant)).total_seconds())))


# --- digest slots --------------------------------------------------------------------------

def never_digests(settings: NotificationSettings) -> bool:
    """True when no digest can ever be delivered: all days quiet, or every digest time in quiet hours."""
    return always_quiet(settings) or all(in_quiet_hours(settings, t) for t in settings.digest_times)


def next_digest_at(settings: NotificationSettings, instant: datetime) -> datetime | None:
    """The first usable digest slot at or after `instant`; None if the settings allow none."""
    if never_digests(settings):
        return None
    return next(_slots_from(settings, instant), None)


def digest_slots(settings: NotificationSettings, since: datetime, until: datetime) -> list[datetime]:
    """Usable digest slots with since < slot <= until, in order (e.g. the slots a stopped dispatcher missed)."""
    if never_digests(settings) or until <= since:
        return []
    slots = []
    start = _utc(since) + timedelta(microseconds=1)
    for slot in _slots_from(settings, start, days=(until - since).days + SEARCH_DAYS):
        if slot > until:
            break
        slots.append(slot)
    return slots


def next_delivery_at(
    settings: NotificationSettings, pending_since: datetime, now: datetime, *, urgent: bool = False
) -> datetime | None:
    """When to push what has been pending since `pending_since`, seen by a dispatcher at `now`; None = never.

    Urgent work goes at the next instant outside quiet time. A digest goes at the first usable slot
    after its oldest event; a slot that was missed (no dispatcher ran) goes now if now is not quiet,
    else at the next slot, so quiet hours hold and nothing held back arrives as a burst of pushes.
    Call it again with the new settings when a person changes zone or schedule.
    """
    if urgent:
        return next_allowed_instant(settings, max(_utc(pending_since), _utc(now)))
    slot = next_digest_at(settings, pending_since)
    if slot is None or slot >= _utc(now):
        return slot
    if not in_quiet_time(settings, now):
        return _utc(now)
    return next_digest_at(settings, now)


def first_digest_on(settings: NotificationSettings, day: date) -> datetime | None:
    """The first usable digest slot on a local date (e.g. the person's Monday); None if that day has none."""
    if never_digests(settings):
        return None
    slot = next(_slots_from(settings, _reach(settings, day, time(0)), days=1), None)
    return slot if slot is not None and _local(settings, slot).date() == day else None


def due_reminder_at(settings: NotificationSettings, due_on: date) -> datetime | None:
    """When "due today" is told: the first usable digest on the due date, else the last one in the week before."""
    if never_digests(settings):
        return None
    first = next(_slots_from(settings, _reach(settings, due_on, time(0))), None)
    if first is not None and _local(settings, first).date() == due_on:
        return first
    week_before = _reach(settings, due_on - timedelta(days=7), time(0))
    day_start = _reach(settings, due_on, time(0))
    earlier = [s for s in digest_slots(settings, week_before, day_start) if s < day_start]
    return earlier[-1] if earlier else first


def describe_next_digest(settings: NotificationSettings, instant: datetime) -> str | None:
    """The next digest as the person reads it on the settings page, e.g. 'Thu 09:00'; None if never."""
    slot = next_digest_at(settings, instant)
    return None if slot is None else _local(settings, slot).strftime("%a %H:%M")


# --- local wall clock <-> UTC ----------------------------------------------------------------

def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("Schedule functions take aware instants, never naive datetimes.")
    return instant.astimezone(UTC)


def _local(settings: NotificationSettings, instant: datetime) -> datetime:
    return _utc(instant).astimezone(settings.zone)


def _wall(settings: NotificationSettings, instant: datetime) -> datetime:
    """The naive local wall-clock reading at an instant."""
    return _local(settings, instant).replace(tzinfo=None)


def _interpretations(settings: NotificationSettings, day: date, at: time) -> tuple[datetime, datetime]:
    """Both UTC readings of a local wall time (equal unless it is in a fold or a gap)."""
    first = datetime.combine(day, at, tzinfo=settings.zone).astimezone(UTC)
    second = datetime.combine(day, at, tzinfo=settings.zone).replace(fold=1).astimezone(UTC)
    return first, second


def _reach(settings: NotificationSettings, day: date, at: time) -> datetime:
    """The first instant the wall clock shows at least (day, at): its first occurrence, or the end of a gap."""
    target = datetime.combine(day, at)
    first, second = _interpretations(settings, day, at)
    if _wall(settings, first) == target:
        return first
    # In a gap: the clock jumps over `target` between the two readings (transitions are whole seconds).
    lo, hi = math.floor(min(first, second).timestamp()), math.ceil(max(first, second).timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(settings, _from_ts(mid)) >= target:
            hi = mid
        else:
            lo = mid
    return _from_ts(hi)


def _offset_changes(settings: NotificationSettings, start: datetime, end: datetime) -> Iterator[datetime]:
    """Instants in (start, end] where the zone's UTC offset changes (DST and other transitions)."""
    lo, end_ts = math.floor(start.timestamp()), math.ceil(end.timestamp())
    while lo < end_ts:
        hi = min(lo + _OFFSET_STEP, end_ts)
        before = _offset_at(settings, lo)
        if before != _offset_at(settings, hi):
            a, b = lo, hi
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_at(settings, mid) == before:
                    a = mid
                else:
                    b = mid
            yield _from_ts(b)
        lo = hi


def _offset_at(settings: NotificationSettings, timestamp: int) -> timedelta | None:
    return _from_ts(timestamp).astimezone(settings.zone).utcoffset()


def _from_ts(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _change_points(settings: NotificationSettings, instant: datetime) -> Iterator[datetime]:
    """In order, every instant after `instant` where quiet time might begin or end, within the search bound.

    Quiet time changes only where the wall clock passes midnight, the quiet start or the quiet end
    (in either reading of a fold), or where the zone's offset changes; checking each of these in
    order finds the first change exactly. Produced a day at a time, so the usual answer is cheap.
    """
    instant = _utc(instant)
    boundaries = {time(0), settings.quiet_start, settings.quiet_end}
    for chunk in range(SEARCH_DAYS):
        lo, hi = instant + timedelta(days=chunk), instant + timedelta(days=chunk + 1)
        points = set(_offset_changes(settings, lo, hi))
        first_day = _local(settings, lo).date() - timedelta(days=2)
        for offset in range(5):
            day = first_day + timedelta(days=offset)
            for at in boundaries:
                points.update(_interpretations(settings, day, at))
        yield from sorted(p for p in points if lo < p <= hi)


def _slots_from(settings: NotificationSettings, instant: datetime, days: int = SEARCH_DAYS) -> Iterator[datetime]:
    """Usable digest slot instants at or after `instant`, in order, over `days` local dates."""
    instant = _utc(instant)
    first_day = _local(settings, instant).date() - timedelta(days=1)
    last: datetime | None = None
    for offset in range(days + 2):
        day = first_day + timedelta(days=offset)
        if day.isoweekday() in settings.quiet_days:
            continue
        for at in settings.digest_times:
            if in_quiet_hours(settings, at):
                continue
            slot = _reach(settings, day, at)
            if slot < instant or slot == last or in_quiet_time(settings, slot):
                continue
            last = slot
            yield slot

"""The notification schedule as pure functions: quiet time, digest slots, urgent delivery and TTL."""
import os
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, assume, given, settings as hypothesis_settings, strategies as st

from webapp.notifications.schedule import (
    MAX_TTL,
    MIN_TTL,
    InvalidSettings,
    NotificationSettings,
    describe_next_digest,
    digest_slots,
    due_reminder_at,
    in_quiet_time,
    never_digests,
    next_allowed_instant,
    next_delivery_at,
    next_digest_at,
    next_quiet_start,
    parse_hhmm,
    push_ttl,
)

NEW_YORK, BERLIN = "America/New_York", "Europe/Berlin"


def at(zone: str, *args: int, fold: int = 0) -> datetime:
    """A local wall time in a zone, as the UTC instant the functions take and return."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def person(zone: str = NEW_YORK, **changes) -> NotificationSettings:
    return NotificationSettings(zone, **changes)


NO_QUIET = {"quiet_start": time(0), "quiet_end": time(0), "quiet_days": frozenset()}


# --- settings --------------------------------------------------------------------------------

def test_defaults_are_the_issues():
    settings = person()
    assert (settings.quiet_start, settings.quiet_end) == (time(18), time(8))
    assert settings.quiet_days == {6, 7}
    assert settings.digest_times == (time(9), time(13), time(16, 30))
    assert settings.push_enabled is True


def test_digest_times_are_stored_sorted_and_unique():
    settings = person(digest_times=[time(16, 30), time(9), time(16, 30)])
    assert settings.digest_times == (time(9), time(16, 30))


@pytest.mark.parametrize(("changes", "field"), [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": ""}, "time_zone"),
    ({"time_zone": "../etc/passwd"}, "time_zone"),
    ({"quiet_days": {0}}, "quiet_days"),
    ({"quiet_days": {8}}, "quiet_days"),
    ({"digest_times": ()}, "digest_times"),
    ({"digest_times": tuple(time(h) for h in range(7))}, "digest_times"),
    ({"quiet_start": "18:00"}, "quiet_hours"),
    ({"digest_times": (time(9, tzinfo=UTC),)}, "digest_times"),
])
def test_invalid_settings_name_the_field(changes, field):
    values = {"time_zone": NEW_YORK, **changes}
    with pytest.raises(InvalidSettings) as raised:
        NotificationSettings(**values)
    assert raised.value.field == field


def test_hhmm_is_strict():
    assert parse_hhmm("09:05") == time(9, 5)
    for bad in ("9:05", "24:00", "09:60", "09:05:00", "", None):
        with pytest.raises(InvalidSettings):
            parse_hhmm(bad, "digest_times")


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        in_quiet_time(person(), datetime(2026, 3, 9, 12))


# --- quiet time ----------------------------------------------------------------------------

def test_quiet_hours_include_start_and_exclude_end():
    settings = person()
    assert not in_quiet_time(settings, at(NEW_YORK, 2026, 3, 10, 17, 59, 59))
    assert in_quiet_time(settings, at(NEW_YORK, 2026, 3, 10, 18, 0))
    assert in_quiet_time(settings, at(NEW_YORK, 2026, 3, 11, 7, 59, 59))
    assert not in_quiet_time(settings, at(NEW_YORK, 2026, 3, 11, 8, 0))


def test_quiet_hours_within_one_day():
    settings = person(quiet_start=time(12), quiet_end=time(13), quiet_days=frozenset())
    assert in_quiet_time(settings, at(NEW_YORK, 2026, 3, 10, 12, 30))
    assert not in_quiet_time(settings, at(NEW_YORK, 2026, 3, 10, 13, 0))
    assert not in_quiet_time(settings, at(NEW_YORK, 2026, 3, 10, 23, 0))


def test_equal_start_and_end_means_no_quiet_hours():
    settings = person(quiet_start=time(9), quiet_end=time(9), quiet_days=frozenset())
    for hour in range(24):
        assert not in_quiet_time(settings, at(NEW_YORK, 2026, 3, 10, hour))
    assert next_quiet_start(settings, at(NEW_YORK, 2026, 3, 10, 9)) is None
    assert push_ttl(settings, at(NEW_YORK, 2026, 3, 10, 9)) == MAX_TTL


def test_friday_evening_to_monday_morning_is_one_quiet_stretch():
    settings = person()
    assert not in_quiet_time(settings, at(NEW_YORK, 2026, 3, 13, 17, 59))
    for moment in [(2026, 3, 13, 18, 0), (2026, 3, 13, 23, 59), (2026, 3, 14, 12, 0),
                   (2026, 3, 15, 23, 59), (2026, 3, 16, 0, 0), (2026, 3, 16, 7, 59)]:
        assert in_quiet_time(settings, at(NEW_YORK, *moment)), moment
    assert next_allowed_instant(settings, at(NEW_YORK, 2026, 3, 13, 18)) == at(NEW_YORK, 2026, 3, 16, 8)


def test_quiet_days_are_whole_local_days_without_quiet_hours():
    settings = person(quiet_start=time(0), quiet_end=time(0))
    assert in_quiet_time(settings, at(NEW_YORK, 2026, 3, 14, 0, 0))
    assert not in_quiet_time(settings, at(NEW_YORK, 2026, 3, 13, 23, 59))
    assert next_quiet_start(settings, at(NEW_YORK, 2026, 3, 13, 12)) == at(NEW_YORK, 2026, 3, 14, 0)
    assert next_allowed_instant(settings, at(NEW_YORK, 2026, 3, 14, 9)) == at(NEW_YORK, 2026, 3, 16, 0)


def test_quiet_time_is_judged_in_the_persons_zone_not_the_servers():
    instant = utc(2026, 3, 10, 19)  # 15:00 in New York, 20:00 in Berlin
    assert not in_quiet_time(person(NEW_YORK), instant)
    assert in_quiet_time(person(BERLIN), instant)


def test_next_quiet_start_is_the_evening_or_now_when_already_quiet():
    settings = person()
    assert next_quiet_start(settings, at(NEW_YORK, 2026, 3, 10, 10)) == at(NEW_YORK, 2026, 3, 10, 18)
    late = at(NEW_YORK, 2026, 3, 10, 22)
    assert next_quiet_start(settings, late) == late


def test_urgent_waits_for_the_morning_and_goes_at_once_in_working_hours():
    settings = person()
    assert next_allowed_instant(settings, at(NEW_YORK, 2026, 3, 10, 23)) == at(NEW_YORK, 2026, 3, 11, 8)
    noon = at(NEW_YORK, 2026, 3, 10, 12)
    assert next_allowed_instant(settings, noon) == noon


def test_all_days_quiet_means_never_and_returns_at_once():
    settings = person(quiet_days=frozenset(range(1, 8)))
    instant = at(NEW_YORK, 2026, 3, 10, 12)
    assert next_allowed_instant(settings, instant) is None
    assert next_digest_at(settings, instant) is None
    assert describe_next_digest(settings, instant) is None
    assert digest_slots(settings, instant, instant + timedelta(days=30)) == []
    assert next_delivery_at(settings, instant, instant, urgent=True) is None
    assert push_ttl(settings, instant) == MIN_TTL


def test_a_one_minute_window_a_day_is_still_found():
    settings = person(quiet_start=time(8), quiet_end=time(7, 59), quiet_days=frozenset(),
                      digest_times=(time(7, 59), time(12)))
    instant = at(NEW_YORK, 2026, 3, 10, 12)
    assert next_allowed_instant(settings, instant) == at(NEW_YORK, 2026, 3, 11, 7, 59)
    assert next_digest_at(settings, instant) == at(NEW_YORK, 2026, 3, 11, 7, 59)


# --- DST and odd offsets: quiet time ---------------------------------------------------------

def test_quiet_time_ends_when_a_dst_gap_jumps_over_its_end():
    # 2026-03-08, New York: 02:00 EST -> 03:00 EDT; quiet until 02:30 ends at the jump.
    settings = person(quiet_start=time(1), quiet_end=time(2, 30), quiet_days=frozenset())
    assert next_allowed_instant(settings, at(NEW_YORK, 2026, 3, 8, 1, 30)) == utc(2026, 3, 8, 7)


def test_the_repeated_hour_of_a_fold_is_quiet_again():
    # 2026-11-01, New York: 02:00 EDT -> 01:00 EST; the wall clock shows 01:00-01:30 twice.
    settings = person(quiet_start=time(1), quiet_end=time(1, 30), quiet_days=frozenset())
    after_first = at(NEW_YORK, 2026, 11, 1, 1, 45)
    assert not in_quiet_time(settings, after_first)
    assert next_quiet_start(settings, after_first) == at(NEW_YORK, 2026, 11, 1, 1, 0, fold=1) == utc(2026, 11, 1, 6)
    second_pass = at(NEW_YORK, 2026, 11, 1, 1, 10, fold=1)
    assert next_allowed_instant(settings, second_pass) == utc(2026, 11, 1, 6, 30)


def test_ttl_counts_real_seconds_across_a_dst_change():
    # Midnight to 03:00 on the spring-forward night is two hours, not three.
    settings = person(quiet_start=time(3), quiet_end=time(4), quiet_days=frozenset())
    assert push_ttl(settings, at(NEW_YORK, 2026, 3, 8, 0, 0)) == 2 * 3600


@pytest.mark.parametrize(("moment", "ttl"), [
    ((2026, 3, 10, 10, 0), 8 * 3600),     # until 18:00
    ((2026, 3, 10, 17, 30), MIN_TTL),     # half an hour, raised to one
    ((2026, 3, 10, 22, 0), MIN_TTL),      # sent in quiet time (a test push): one hour
])
def test_ttl_lasts_until_quiet_time_within_one_and_24_hours(moment, ttl):
    assert push_ttl(person(), at(NEW_YORK, *moment)) == ttl


def test_ttl_is_at_most_a_day():
    settings = person(quiet_start=time(0), quiet_end=time(0))  # only weekends quiet
    assert push_ttl(settings, at(NEW_YORK, 2026, 3, 9, 9)) == MAX_TTL


# --- digest slots ------------------------------------------------------------------------------

@pytest.mark.parametrize(("moment", "expected"), [
    ((2026, 3, 10, 8, 0), (2026, 3, 10, 9, 0)),
    ((2026, 3, 10, 9, 0), (2026, 3, 10, 9, 0)),      # at or after
    ((2026, 3, 10, 9, 0, 1), (2026, 3, 10, 13, 0)),
    ((2026, 3, 10, 16, 31), (2026, 3, 11, 9, 0)),
    ((2026, 3, 13, 16, 31), (2026, 3, 16, 9, 0)),    # Friday evening waits for Monday
    ((2026, 3, 14, 10, 0), (2026, 3, 16, 9, 0)),     # Saturday
])
def test_next_digest_with_the_defaults(moment, expected):
    assert next_digest_at(person(), at(NEW_YORK, *moment)) == at(NEW_YORK, *expected)


def test_a_digest_time_inside_quiet_hours_is_skipped():
    settings = person(digest_times=(time(7), time(9)))
    assert next_digest_at(settings, at(NEW_YORK, 2026, 3, 10, 6)) == at(NEW_YORK, 2026, 3, 10, 9)


def test_every_digest_time_inside_quiet_hours_means_never():
    settings = person(digest_times=(time(7), time(19)))
    assert never_digests(settings)
    assert next_digest_at(settings, at(NEW_YORK, 2026, 3, 10, 6)) is None
    assert next_delivery_at(settings, at(NEW_YORK, 2026, 3, 10, 6), at(NEW_YORK, 2026, 3, 10, 6)) is None


def test_digest_follows_the_wall_clock_across_dst_not_24_hours():
    friday, monday = at(NEW_YORK, 2026, 3, 6, 9), at(NEW_YORK, 2026, 3, 9, 9)
    assert friday == utc(2026, 3, 6, 14) and monday == utc(2026, 3, 9, 13)
    assert next_digest_at(person(), friday + timedelta(hours=1)) == at(NEW_YORK, 2026, 3, 6, 13)
    assert next_digest_at(person(), at(NEW_YORK, 2026, 3, 6, 17)) == monday
    assert next_digest_at(person(BERLIN), utc(2026, 3, 29, 12)) == utc(2026, 3, 30, 7)  # 09:00 CEST
    assert next_digest_at(person(BERLIN), utc(2026, 3, 26, 16)) == utc(2026, 3, 27, 8)  # 09:00 CET


def test_a_digest_time_in_a_dst_gap_is_delivered_when_the_gap_ends():
    settings = person(digest_times=(time(2, 30), time(9)), **NO_QUIET)
    assert next_digest_at(settings, at(NEW_YORK, 2026, 3, 8, 0)) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert next_digest_at(settings, utc(2026, 3, 8, 7, 0, 1)) == at(NEW_YORK, 2026, 3, 8, 9)


def test_a_digest_time_in_a_dst_fold_is_delivered_once_at_its_first_occurrence():
    settings = person(digest_times=(time(1, 30),), **NO_QUIET)
    first = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert next_digest_at(settings, at(NEW_YORK, 2026, 11, 1, 0)) == first
    assert next_digest_at(settings, first + timedelta(seconds=1)) == at(NEW_YORK, 2026, 11, 2, 1, 30)
    day = digest_slots(settings, at(NEW_YORK, 2026, 10, 31, 12), at(NEW_YORK, 2026, 11, 1, 12))
    assert day == [first]


def test_two_digest_times_in_one_gap_are_one_delivery():
    settings = person(digest_times=(time(2, 10), time(2, 40)), **NO_QUIET)
    slots = digest_slots(settings, at(NEW_YORK, 2026, 3, 7, 12), at(NEW_YORK, 2026, 3, 8, 12))
    assert slots == [utc(2026, 3, 8, 7)]


def test_a_gap_slot_delivered_into_quiet_time_is_skipped():
    # 02:30 does not exist on 2026-03-08; its delivery instant 03:00 is inside quiet 02:45-06:00.
    settings = person(quiet_start=time(2, 45), quiet_end=time(6), quiet_days=frozenset(),
                      digest_times=(time(2, 30), time(9)))
    assert next_digest_at(settings, at(NEW_YORK, 2026, 3, 8, 0)) == at(NEW_YORK, 2026, 3, 8, 9)


def test_half_hour_offset_kolkata():
    assert next_digest_at(person("Asia/Kolkata"), utc(2026, 3, 10, 0)) == utc(2026, 3, 10, 3, 30)


def test_lord_howe_half_hour_dst_gap_and_fold():
    zone = "Australia/Lord_Howe"
    settings = person(zone, digest_times=(time(1, 45), time(2, 15)), **NO_QUIET)
    # 2026-10-04 02:00 LHST (+10:30) -> 02:30 LHDT: 02:15 goes at the jump, 15:30Z the day before.
    assert next_digest_at(settings, at(zone, 2026, 10, 4, 1, 50)) == utc(2026, 10, 3, 15, 30)
    # 2026-04-05 02:00 LHDT (+11) -> 01:30 LHST: 01:45 happens twice, delivered once.
    fold_day = digest_slots(settings, at(zone, 2026, 4, 4, 12), at(zone, 2026, 4, 5, 12))
    assert fold_day == [utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15, 45)]


def test_chatham_gap_at_quarter_to_three():
    zone = "Pacific/Chatham"
    settings = person(zone, digest_times=(time(3),), **NO_QUIET)
    # 2026-09-27 02:45 CHAST (+12:45) -> 03:45 CHADT: 03:00 is delivered at the jump.
    assert next_digest_at(settings, at(zone, 2026, 9, 27, 0)) == utc(2026, 9, 26, 14)


def test_missed_slots_are_listed_for_the_next_pass():
    settings = person()
    since, until = at(NEW_YORK, 2026, 3, 10, 9), at(NEW_YORK, 2026, 3, 11, 13)
    assert digest_slots(settings, since, until) == [
        at(NEW_YORK, 2026, 3, 10, 13), at(NEW_YORK, 2026, 3, 10, 16, 30),
        at(NEW_YORK, 2026, 3, 11, 9), at(NEW_YORK, 2026, 3, 11, 13),
    ]
    assert digest_slots(settings, at(NEW_YORK, 2026, 3, 13, 17), at(NEW_YORK, 2026, 3, 16, 8)) == []


def test_describe_next_digest_for_the_settings_page():
    assert describe_next_digest(person(), at(NEW_YORK, 2026, 3, 11, 17)) == "Thu 09:00"


# --- when pending work goes ---------------------------------------------------------------------

def test_pending_digest_waits_for_its_slot():
    settings = person()
    event = at(NEW_YORK, 2026, 3, 10, 10)
    assert next_delivery_at(settings, event, event) == at(NEW_YORK, 2026, 3, 10, 13)


def test_a_missed_slot_goes_on_the_next_pass_outside_quiet_time():
    settings = person()
    event, pass_at = at(NEW_YORK, 2026, 3, 10, 10), at(NEW_YORK, 2026, 3, 10, 14, 5)
    assert next_delivery_at(settings, event, pass_at) == pass_at


def test_a_missed_slot_found_in_quiet_time_waits_for_the_next_slot_not_a_burst():
    settings = person()
    event, pass_at = at(NEW_YORK, 2026, 3, 10, 10), at(NEW_YORK, 2026, 3, 10, 20)
    assert next_delivery_at(settings, event, pass_at) == at(NEW_YORK, 2026, 3, 11, 9)


def test_urgent_goes_now_or_when_quiet_time_ends():
    settings = person()
    noon, night = at(NEW_YORK, 2026, 3, 10, 12), at(NEW_YORK, 2026, 3, 10, 23)
    assert next_delivery_at(settings, noon, noon, urgent=True) == noon
    assert next_delivery_at(settings, night, night, urgent=True) == at(NEW_YORK, 2026, 3, 11, 8)


def test_due_reminder_goes_in_the_first_digest_of_the_due_date():
    settings = person(digest_times=(time(7), time(9), time(13)))
    assert due_reminder_at(settings, date(2026, 3, 11)) == at(NEW_YORK, 2026, 3, 11, 9)


def test_due_reminder_for_a_quiet_day_goes_in_the_last_digest_before_it():
    assert due_reminder_at(person(), date(2026, 3, 14)) == at(NEW_YORK, 2026, 3, 13, 16, 30)


# --- properties over random zones, windows, days, digest times and instants -------------------

EXAMPLES = int(os.environ.get("PLATE_HYPOTHESIS_EXAMPLES", "120"))
PROPERTY = hypothesis_settings(max_examples=EXAMPLES, deadline=None,
                               suppress_health_check=[HealthCheck.too_slow])
ZONES = sorted(available_timezones() - {"Factory", "localtime"})
TRICKY_ZONES = [NEW_YORK, BERLIN, "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham",
                "America/St_Johns", "Asia/Kathmandu", "Antarctica/Troll", "Europe/Dublin",
                "Africa/Casablanca", "Pacific/Apia", "America/Santiago"]
MINUTE = timedelta(minutes=1)
SCAN_LIMIT = timedelta(days=10)


@lru_cache(maxsize=None)
def offset_changes(zone: str, year: int) -> tuple[datetime, ...]:
    """The instants a zone changes offset in a year: a day at a time, then halving down to the minute."""
    info, found = ZoneInfo(zone), []
    offset = lambda moment: moment.astimezone(info).utcoffset()  # noqa: E731
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        lo, hi = day, day + timedelta(days=1)
        if offset(lo) != offset(hi):
            while hi - lo > MINUTE:
                mid = lo + (hi - lo) // 2
                mid = mid.replace(second=0, microsecond=0)
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            found.append(hi)
        day += timedelta(days=1)
    return tuple(found)


minute_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))


def wall_minutes(moment: datetime, zone: str) -> int:
    local = moment.astimezone(ZoneInfo(zone))
    return local.hour * 60 + local.minute


@st.composite
def cases(draw):
    """Settings and an instant, often next to an offset change, with times at the wall times around it."""
    zone = draw(st.one_of(st.sampled_from(TRICKY_ZONES), st.sampled_from(ZONES)))
    year = draw(st.integers(2001, 2036))
    changes = offset_changes(zone, year)
    any_time = minute_times
    if changes and draw(st.integers(0, 3)):
        change = draw(st.sampled_from(changes))
        spread = draw(st.sampled_from([4 * 3600, 3 * 86400]))
        instant = change + timedelta(seconds=draw(st.integers(-spread, spread)))
        # The wall times just before and at the change: a gap's or a fold's edges, give or take.
        edges = [wall_minutes(change - MINUTE, zone) + 1, wall_minutes(change, zone)]
        near = st.builds(lambda edge, d: time(((edge + d) % 1440) // 60, (edge + d) % 60),
                         st.sampled_from(edges), st.integers(-75, 75))
        any_time = st.one_of(near, near, minute_times)
    else:
        instant = datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 365 * 86400)))
    start, end = draw(any_time), draw(any_time)
    quiet_days = draw(st.frozensets(st.integers(1, 7), max_size=6) | st.just(frozenset({6, 7})))
    digests = draw(st.lists(any_time, min_size=1, max_size=6))
    settings = NotificationSettings(zone, start, end, quiet_days, tuple(digests))
    return settings, instant


def wall(settings: NotificationSettings, instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(settings.time_zone)).replace(tzinfo=None)


def reference_quiet(settings: NotificationSettings, local: datetime) -> bool:
    """Quiet time restated from the issue, independently of the module under test."""
    start, end, t = settings.quiet_start, settings.quiet_end, local.time()
    if local.isoweekday() in settings.quiet_days:
        return True
    if start < end:
        return start <= t < end
    return start > end and (t >= start or t < end)


def ceil_minute(instant: datetime) -> datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + MINUTE


def reference_next_allowed(settings, instant):
    """Walk the clock a minute at a time (every boundary and offset is a whole minute after 2000)."""
    if not reference_quiet(settings, wall(settings, instant)):
        return instant
    moment = ceil_minute(instant)
    if moment == instant:
        moment += MINUTE
    while moment - instant < SCAN_LIMIT:
        if not reference_quiet(settings, wall(settings, moment)):
            return moment
        moment += MINUTE
    return None


def reference_next_quiet(settings, instant):
    if reference_quiet(settings, wall(settings, instant)):
        return instant
    moment = ceil_minute(instant)
    while moment - instant < SCAN_LIMIT:
        if reference_quiet(settings, wall(settings, moment)):
            return moment
        moment += MINUTE
    return None


def reference_next_digest(settings, instant):
    """A slot fires when the highest wall-clock reading so far first reaches it; a minute walk finds it."""
    moment = instant.replace(second=0, microsecond=0) - timedelta(hours=3)
    highest = wall(settings, moment)
    while moment - instant < SCAN_LIMIT:
        moment += MINUTE
        now = wall(settings, moment)
        if moment >= instant and now > highest:
            day = highest.date()
            while day <= now.date():
                for t in settings.digest_times:
                    slot = datetime.combine(day, t)
                    if highest < slot <= now and not reference_quiet(settings, slot) \
                            and not reference_quiet(settings, now):
                        return moment
                day += timedelta(days=1)
        highest = max(highest, now)
    return None


@PROPERTY
@given(cases())
def test_urgent_delivery_is_the_first_instant_outside_quiet_time(case):
    settings, instant = case
    delivered = next_allowed_instant(settings, instant)
    assert delivered == reference_next_allowed(settings, instant)
    if delivered is not None:
        assert delivered >= instant and not in_quiet_time(settings, delivered)


@PROPERTY
@given(cases())
def test_a_digest_is_the_first_slot_after_the_event_outside_quiet_time(case):
    settings, instant = case
    delivered = next_digest_at(settings, instant)
    assert delivered == reference_next_digest(settings, instant)
    if delivered is not None:
        assert delivered >= instant and not in_quiet_time(settings, delivered)


@PROPERTY
@given(cases())
def test_quiet_start_and_ttl(case):
    settings, instant = case
    assert next_quiet_start(settings, instant) == reference_next_quiet(settings, instant)
    assert MIN_TTL <= push_ttl(settings, instant) <= MAX_TTL


@PROPERTY
@given(cases(), st.integers(0, 3 * 86400), st.booleans())
def test_pending_work_is_never_delivered_in_quiet_time_nor_later_than_its_slot(case, waited, urgent):
    settings, event = case
    now = event + timedelta(seconds=waited)
    delivered = next_delivery_at(settings, event, now, urgent=urgent)
    if delivered is None:
        assert (next_allowed_instant if urgent else next_digest_at)(settings, now) is None
        return
    assert delivered >= now and not in_quiet_time(settings, delivered)
    if urgent:
        assert delivered == next_allowed_instant(settings, now)
    else:
        slot = next_digest_at(settings, event)
        assert delivered == slot if slot >= now else delivered <= next_digest_at(settings, now)


@PROPERTY
@given(cases(), st.integers(1, 4 * 86400))
def test_slots_between_two_passes_are_the_chain_of_next_slots(case, span):
    settings, since = case
    until = since + timedelta(seconds=span)
    expected, moment = [], since + timedelta(microseconds=1)
    while (slot := next_digest_at(settings, moment)) is not None and slot <= until:
        expected.append(slot)
        moment = slot + timedelta(microseconds=1)
    assume(len(expected) < 40)
    assert digest_slots(settings, since, until) == expected

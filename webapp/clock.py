"""The one place Plate reads the time: always an aware UTC instant."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(UTC)


def local_today(time_zone: str, at: datetime | None = None) -> date:
    """The calendar date it is for a person in their own zone."""
    return (at or now()).astimezone(ZoneInfo(time_zone)).date()

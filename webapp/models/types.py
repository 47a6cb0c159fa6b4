"""Column types shared by the models."""
from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

# Ids are INTEGER columns: 32-bit on PostgreSQL. Larger numbers name nothing and must not reach the driver.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator):
    """Stores naive UTC in every database and hands back aware UTC instants."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=UTC)

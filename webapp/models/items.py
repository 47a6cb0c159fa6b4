"""Items on plates, their append-only history and remembered idempotent requests."""
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Double, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.clock import now
from webapp.extensions import db
from webapp.models.people import User
from webapp.models.types import UTCDateTime

PRIORITIES = ("high", "normal", "low")
STATUSES = ("open", "done", "dropped")


class Item(db.Model):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_owner_status_position", "owner_id", "status", "position"),
        Index("ix_items_owner_status_completed", "owner_id", "status", "completed_at"),
        Index("ix_items_owner_status_dropped", "owner_id", "status", "dropped_at"),
        Index("ix_items_owner_updated", "owner_id", "updated_at"),
        Index("ix_items_created_by", "created_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    urgent: Mapped[bool] = mapped_column(default=False)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    drop_reason: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[float] = mapped_column(Double)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "no_longer_needed" when dropped from the "Still needed?" review: counted apart in the record.
    drop_kind: Mapped[str | None] = mapped_column(String(20))
    # When the owner or a manager last answered "Still needed? Keep it": the review asks again later.
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The team request this item is one of, if it came from "Ask my team".
    team_request_id: Mapped[int | None] = mapped_column(ForeignKey("team_requests.id"), index=True)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined", innerjoin=True)
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined", innerjoin=True)


class TeamRequest(db.Model):
    """One ask of several people at once ("can everyone update their pipeline?"): one item per assignee."""

    __tablename__ = "team_requests"
    __table_args__ = (Index("ix_team_requests_org_created_by", "organization_id", "created_by_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    urgent: Mapped[bool] = mapped_column(default=False)
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    created_by: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class ItemEvent(db.Model):
    __tablename__ = "item_events"
    __table_args__ = (Index("ix_item_events_item_at", "item_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class IdempotentRequest(db.Model):
    """A successful create or move, remembered so a replayed request answers the same and does nothing again."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("user_id", "key_hash", name="uq_idempotent_requests_user_key_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # SHA-256 (hex) of the Idempotency-Key, like invitations' token_hash: the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)

"""Notification settings, push subscriptions, the inbox/outbox and digest deliveries."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.clock import now
from webapp.extensions import db
from webapp.models.items import Item
from webapp.models.people import User
from webapp.models.types import UTCDateTime

DEFAULT_QUIET_START = "18:00"
DEFAULT_QUIET_END = "08:00"
DEFAULT_QUIET_DAYS = [6, 7]
DEFAULT_DIGEST_TIMES = ["09:00", "13:00", "16:30"]


class NotificationPreferences(db.Model):
    """A person's own schedule (their zone is User.time_zone); no row means the defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    quiet_start: Mapped[str] = mapped_column(String(5), default=DEFAULT_QUIET_START)
    quiet_end: Mapped[str] = mapped_column(String(5), default=DEFAULT_QUIET_END)
    quiet_days: Mapped[list[int]] = mapped_column(JSON, default=lambda: list(DEFAULT_QUIET_DAYS))
    digest_times: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_DIGEST_TIMES))
    push_enabled: Mapped[bool] = mapped_column(default=True)


class PushSubscription(db.Model):
    """One device's Web Push subscription."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Notification(db.Model):
    """One event for one person: an inbox entry at once, and a line of their next digest (the outbox)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id", "user_id", "id"),
        Index("ix_notifications_user_undigested", "user_id", "digest_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    urgent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id"))

    item: Mapped[Item] = relationship(lazy="joined", innerjoin=True)
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="joined")


class PendingDigest(db.Model):
    """At most one per person: when their next push is due. Upserted atomically under user_id."""

    __tablename__ = "pending_digests"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pending_since: Mapped[datetime] = mapped_column(UTCDateTime)
    urgent: Mapped[bool] = mapped_column(default=False)


class Digest(db.Model):
    """One push of collected notifications to all of a person's devices."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    urgent: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(10), default="digest")  # digest | test
    line_count: Mapped[int] = mapped_column(default=0)
    payload: Mapped[dict] = mapped_column(JSON)
    ttl: Mapped[int]


class Delivery(db.Model):
    """A digest on its way to one device; claimed with a lease so a killed dispatcher loses nothing."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | gone | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_items: Mapped[int | None]  # lowered after a 413 from the push service

    digest: Mapped[Digest] = relationship(lazy="joined", innerjoin=True)
    subscription: Mapped[PushSubscription | None] = relationship(lazy="joined")


class DeliveryAttempt(db.Model):
    """Every answer of a push service, kept for support and statistics."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    status_code: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str | None] = mapped_column(Text)


class DueReminder(db.Model):
    """'Due today' for an open item, told in the owner's first digest of the due date."""

    __tablename__ = "due_reminders"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DispatcherHeartbeat(db.Model):
    """When a dispatcher last finished a pass (for /healthz and to keep SQLite to one dispatcher)."""

    __tablename__ = "dispatcher_heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

"""Organizations, the people in them and invitations to join."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import DDL, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.clock import now
from webapp.extensions import db
from webapp.models.types import UTCDateTime


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Open items older than this many days come up in the "Still needed?" review.
    review_after_days: Mapped[int] = mapped_column(default=14, server_default="14")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_org_manager", "organization_id", "manager_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    # Stored lower-cased, so uniqueness is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    time_zone: Mapped[str] = mapped_column(String(64))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_admin: Mapped[bool] = mapped_column(default=False)
    # Bumped on password change: sessions carrying an older epoch are logged out.
    session_epoch: Mapped[int] = mapped_column(default=0)
    # Bumped with every change that alters how this person's plate reads, in the same
    # transaction: rendered plates are cached under it (webapp/api/plate_cache.py).
    plate_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    organization: Mapped[Organization] = relationship()

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"


# PostgreSQL announces every change to what a request's caller is made of (auth/caller.py) on this
# channel, with the person's id, when the change commits: workers that remember callers
# (auth/caller_cache.py) forget that one. A trigger, so that no statement can forget to.
USERS_CHANNEL = "plate_users"
CALLER_COLUMNS = ("organization_id", "manager_id", "is_admin", "session_epoch", "time_zone", "plate_version")
USERS_NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION plate_notify_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{USERS_CHANNEL}', OLD.id::text);
    RETURN NULL;
END $$"""
USERS_NOTIFY_TRIGGER = f"""
CREATE TRIGGER users_notify_change AFTER UPDATE OF {", ".join(CALLER_COLUMNS)} OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION plate_notify_user_change()"""
for _statement in (USERS_NOTIFY_FUNCTION, USERS_NOTIFY_TRIGGER):  # tests create tables without migrations
    event.listen(User.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))


class Invitation(db.Model):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_admin: Mapped[bool] = mapped_column(default=False)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # SHA-256 of the token: a leaked database does not leak usable invitations.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

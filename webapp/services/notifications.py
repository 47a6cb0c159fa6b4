"""A person's notification settings, inbox and push subscriptions."""
import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.clock import now
from webapp.models import Notification, NotificationPreferences, PushSubscription, User
from webapp.notifications import outbox
from webapp.notifications.schedule import InvalidSettings, NotificationSettings, format_hhmm, parse_hhmm
from webapp.services.errors import Invalid
from webapp.services.people import check_time_zone, touch_plates


# --- settings ----------------------------------------------------------------------------

def settings_view(session: Session, user: User) -> NotificationSettings:
    return outbox.load_settings(session, user)


def update_settings(session: Session, user: User, data: dict) -> NotificationSettings:
    """Apply any subset of the settings; the pending digest and reminders follow at once."""
    current = outbox.load_settings(session, user)
    time_zone = check_time_zone(data["time_zone"]) if "time_zone" in data else user.time_zone
    quiet = data.get("quiet_hours")
    try:
        wanted = NotificationSettings(
            time_zone=time_zone,
            quiet_start=parse_hhmm(quiet["start"], "quiet_hours") if quiet else current.quiet_start,
            quiet_end=parse_hhmm(quiet["end"], "quiet_hours") if quiet else current.quiet_end,
            quiet_days=frozenset(data.get("quiet_days", current.quiet_days)),
            digest_times=tuple(parse_hhmm(t, "digest_times") for t in data["digest_times"])
            if "digest_times" in data else current.digest_times,
            push_enabled=data.get("push_enabled", current.push_enabled),
        )
    except InvalidSettings as error:
        raise Invalid(error.field, str(error)) from None
    preferences = session.get(NotificationPreferences, user.id) or NotificationPreferences(user_id=user.id)
    preferences.quiet_start = format_hhmm(wanted.quiet_start)
    preferences.quiet_end = format_hhmm(wanted.quiet_end)
    preferences.quiet_days = sorted(wanted.quiet_days)
    preferences.digest_times = [format_hhmm(t) for t in wanted.digest_times]
    preferences.push_enabled = wanted.push_enabled
    session.add(preferences)
    if time_zone != user.time_zone:
        user.time_zone = time_zone
        touch_plates(session, [user.id])
    session.flush()
    outbox.reschedule(session, user)
    return wanted


# --- inbox -------------------------------------------------------------------------------

@dataclass
class InboxPage:
    items: list[Notification]
    unread: int
    next_cursor: int | None


def inbox(session: Session, user: User, limit: int, before_id: int | None) -> InboxPage:
    """Newest first, one entry per event; `before_id` continues a previous page."""
    query = select(Notification).where(Notification.user_id == user.id)
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    rows = list(session.scalars(query.order_by(Notification.id.desc()).limit(limit + 1)))
    unread = session.scalar(select(func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None)))
    more = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(rows, unread, rows[-1].id if more else None)


def mark_read(session: Session, user: User, ids: list[int] | None) -> int:
    """Mark some (ids) or all of the person's notifications read; returns how many stay unread."""
    statement = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    session.execute(statement.values(read_at=now()), execution_options={"synchronize_session": False})
    return session.scalar(select(func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None)))


# --- push subscriptions ------------------------------------------------------------------

def _b64url(value: str, field: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise Invalid(field, "Not base64url.") from None


def origin_allowed(endpoint: str, allowed: list[str]) -> bool:
    """True when the endpoint's scheme://host[:port] is allowed; a pattern's leading *. matches any subdomain."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname and parts.hostname + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not host:
        return False
    for pattern in allowed:
        scheme, _, allowed_host = pattern.partition("://")
        if scheme != parts.scheme:
            continue
        if host == allowed_host or (allowed_host.startswith("*.") and host.endswith(allowed_host[1:])):
            return True
    return False


def subscribe(session: Session, user: User, data: dict, allowed_origins: list[str]) -> tuple[PushSubscription, bool]:
    """Register this device (a PushSubscription.toJSON()); True when it is new."""
    endpoint = data["endpoint"]
    if not origin_allowed(endpoint, allowed_origins):
        raise Invalid("endpoint", "This push service is not allowed here.")
    p256dh, auth = data["keys"]["p256dh"], data["keys"]["auth"]
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url(p256dh, "keys.p256dh"))
    except ValueError:
        raise Invalid("keys.p256dh", "Not a P-256 public key.") from None
    if len(_b64url(auth, "keys.auth")) != 16:
        raise Invalid("keys.auth", "The auth secret must be 16 bytes.")
    subscription = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    created = subscription is None
    if created:
        subscription = PushSubscription(endpoint=endpoint)
        session.add(subscription)
    subscription.user_id = user.id  # a shared device follows whoever subscribed last
    subscription.p256dh, subscription.auth, subscription.updated_at = p256dh, auth, now()
    return subscription, created


def subscriptions_of(session: Session, user: User) -> list[PushSubscription]:
    return list(session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)
                                .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())))


def unsubscribe(session: Session, user: User, endpoint: str) -> None:
    subscription = session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint, PushSubscription.user_id == user.id))
    if subscription is not None:
        session.delete(subscription)

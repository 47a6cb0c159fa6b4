"""Your notification settings and your inbox."""
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.clock import now
from webapp.extensions import db
from webapp.notifications.schedule import (
    describe_next_digest,
    format_hhmm,
    next_digest_at,
)
from webapp.schemas import (
    InboxOut,
    InboxQuery,
    MarkReadIn,
    NotificationSettingsIn,
    NotificationSettingsOut,
    UnreadOut,
)
from webapp.services import notifications

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Notification settings and inbox")


def _settings_out(settings) -> dict:
    at = now()
    return {
        "time_zone": settings.time_zone,
        "quiet_hours": {"start": format_hhmm(settings.quiet_start), "end": format_hhmm(settings.quiet_end)},
        "quiet_days": sorted(settings.quiet_days),
        "digest_times": [format_hhmm(t) for t in settings.digest_times],
        "push_enabled": settings.push_enabled,
        "local_time": at.astimezone(settings.zone).strftime("%H:%M"),
        "next_digest": describe_next_digest(settings, at),
        "next_digest_at": next_digest_at(settings, at),
    }


@blp.get("/me/notification-settings")
@blp.response(200, NotificationSettingsOut)
def get_notification_settings():
    """Your quiet hours, quiet days and digest times, in your time zone, with your next digest."""
    return _settings_out(notifications.settings_view(db.session, actor()))


@blp.patch("/me/notification-settings")
@blp.arguments(NotificationSettingsIn())
@blp.response(200, NotificationSettingsOut)
def update_notification_settings(data):
    """Change any of the settings; quiet hours include their start and exclude their end."""
    settings = notifications.update_settings(db.session, actor(), data)
    db.session.commit()
    return _settings_out(settings)


@blp.get("/notifications")
@blp.arguments(InboxQuery(), location="query")
@blp.response(200, InboxOut)
def list_notifications(query):
    """Your inbox, newest first: every notification lands here when it happens, push or not."""
    return notifications.inbox(db.session, actor(), query["limit"], query.get("cursor"))


@blp.post("/notifications/read")
@blp.arguments(MarkReadIn())
@blp.response(200, UnreadOut)
def mark_notifications_read(data):
    """Mark the given ids, or all, as read."""
    unread = notifications.mark_read(db.session, actor(), None if data.get("all") else data["ids"])
    db.session.commit()
    return {"unread": unread}

"""All models, importable from one place (Alembic sees them through here)."""
from webapp.models.items import PRIORITIES, STATUSES, IdempotentRequest, Item, ItemEvent, TeamRequest
from webapp.models.notifications import (
    Delivery,
    DeliveryAttempt,
    Digest,
    DispatcherHeartbeat,
    DueReminder,
    Notification,
    NotificationPreferences,
    PendingDigest,
    PushSubscription,
)
from webapp.models.people import Invitation, Organization, User

__all__ = [
    "PRIORITIES", "STATUSES", "Delivery", "DeliveryAttempt", "Digest", "DispatcherHeartbeat", "DueReminder",
    "IdempotentRequest", "Invitation", "Item", "ItemEvent", "Notification", "NotificationPreferences",
    "Organization", "PendingDigest", "PushSubscription", "TeamRequest", "User",
]

"""All models, importable from one place (Alembic sees them through here)."""
from webapp.models.items import PRIORITIES, STATUSES, IdempotentRequest, Item, ItemEvent
from webapp.models.people import Invitation, Organization, User

__all__ = ["PRIORITIES", "STATUSES", "IdempotentRequest", "Invitation", "Item", "ItemEvent", "Organization", "User"]

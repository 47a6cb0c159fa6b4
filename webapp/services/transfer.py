"""One organization as a JSON document, and back: for moving an organization to another server.

What goes in: the organization, its people (with password hashes, so everyone can log in after a
restore; the file is therefore as secret as the database), invitations (only token hashes, so open
invitation links keep working), team requests, items, their whole history, notification settings,
"due today" reminders of open items, everyone's inbox (read or not), the digests already sent
(the Team page counts them as interruptions) and the news still waiting for a digest, which the
new server's dispatcher pushes at its time.

What stays out, and why: push subscriptions (their keys let anyone push to the devices, and every
device re-posts its subscription on its next visit anyway), the per-device delivery logs of
digests already sent (restored, they could be sent again), idempotency keys (a 24-hour replay
cache) and dispatcher heartbeats (per server).

Ids are kept, so every reference holds; the import therefore needs an empty database.
"""
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, func, select, update
from sqlalchemy.orm import Session

from webapp.clock import now
from webapp.models import (
    Digest, DueReminder, Invitation, Item, ItemEvent, Notification, NotificationPreferences, Organization,
    PendingDigest, TeamRequest, User,
)
from webapp.models.types import UTCDateTime
from webapp.services.errors import Conflict, Invalid, NotFound

FORMAT = "plate-organization"
VERSION = 1
# In the order they are restored: each only refers to those before it (users' managers are set afterwards).
MODELS = {
    "organizations": Organization,
    "users": User,
    "invitations": Invitation,
    "team_requests": TeamRequest,
    "items": Item,
    "item_events": ItemEvent,
    "notification_preferences": NotificationPreferences,
    "due_reminders": DueReminder,
    "digests": Digest,
    "notifications": Notification,
    "pending_digests": PendingDigest,
}


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row(model, instance) -> dict:
    return {column.key: _to_json(getattr(instance, column.key)) for column in model.__mapper__.column_attrs}


def _queries(organization_id: int) -> dict:
    user_ids = select(User.id).where(User.organization_id == organization_id)
    item_ids = select(Item.id).where(Item.organization_id == organization_id)
    return {
        "organizations": select(Organization).where(Organization.id == organization_id),
        "users": select(User).where(User.organization_id == organization_id),
        "invitations": select(Invitation).where(Invitation.organization_id == organization_id),
        "team_requests": select(TeamRequest).where(TeamRequest.organization_id == organization_id),
        "items": select(Item).where(Item.organization_id == organization_id),
        "item_events": select(ItemEvent).where(ItemEvent.item_id.in_(item_ids)),
        "notification_preferences": select(NotificationPreferences).where(
            NotificationPreferences.user_id.in_(user_ids)),
        "due_reminders": select(DueReminder).where(DueReminder.item_id.in_(item_ids)),
        "digests": select(Digest).where(Digest.user_id.in_(user_ids)),
        "notifications": select(Notification).where(Notification.user_id.in_(user_ids)),
        "pending_digests": select(PendingDigest).where(PendingDigest.user_id.in_(user_ids)),
    }


def export_organization(session: Session, organization_id: int) -> dict:
    """Everything of one organization (see the module's docstring), as JSON-ready data."""
    if session.get(Organization, organization_id) is None:
        raise NotFound(f"There is no organization {organization_id}.")
    tables = {}
    for name, query in _queries(organization_id).items():
        model = MODELS[name]
        primary_key = model.__mapper__.primary_key
        tables[name] = [_row(model, instance) for instance in session.scalars(query.order_by(*primary_key))]
    return {"format": FORMAT, "version": VERSION, "exported_at": _to_json(now()), "tables": tables}


def _from_json(model, row: dict) -> dict:
    """A row of the document as column values, every column named (unknown names are an error)."""
    columns = {column.key: column for column in model.__table__.columns}
    if unknown := set(row) - set(columns):
        raise Invalid("tables", f"{model.__tablename__} has no columns {sorted(unknown)}.")
    values = {}
    for key, value in row.items():
        column_type = columns[key].type
        if value is not None and isinstance(column_type, UTCDateTime):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif value is not None and isinstance(column_type, Date):
            value = date.fromisoformat(value)
        values[key] = value
    return values


def import_organization(session: Session, document: dict) -> Organization:
    """Restore an exported organization with its ids into an empty database (the caller commits)."""
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise Invalid("format", f"This is not a {FORMAT} document of version {VERSION}.")
    if session.scalar(select(func.count()).select_from(Organization)) or session.scalar(
            select(func.count()).select_from(User)):
        raise Conflict("The database is not empty: import an organization only into a freshly migrated database.")
    tables = document["tables"]
    if unknown := set(tables) - set(MODELS):
        raise Invalid("tables", f"Unknown tables {sorted(unknown)}.")
    managers = {}
    for name, model in MODELS.items():
        rows = [_from_json(model, row) for row in tables.get(name, [])]
        if name == "users":  # a manager may come after their reports: link them once all exist
            managers = {row["id"]: row["manager_id"] for row in rows if row.get("manager_id") is not None}
            rows = [{**row, "manager_id": None} for row in rows]
        if rows:
            session.execute(model.__table__.insert(), rows)
    for user_id, manager_id in managers.items():
        session.execute(update(User.__table__).where(User.id == user_id).values(manager_id=manager_id))
    restart_id_sequences(session)
    return session.get(Organization, tables["organizations"][0]["id"])


def restart_id_sequences(session: Session) -> None:
    """PostgreSQL: make the next generated id follow the highest restored one (SQLite needs nothing)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in MODELS.values():
        table = model.__table__
        if "id" in table.c and table.c.id.primary_key:
            session.execute(select(func.setval(
                func.pg_get_serial_sequence(table.name, "id"),
                select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery(),
                False,
            )))

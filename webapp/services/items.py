"""Items on plates: adding, editing, completing, dropping, moving, and reading plates and history."""
import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, tuple_, update
from sqlalchemy.orm import Session

from webapp.auth import permissions
from webapp.clock import now
from webapp.lean import LeanQuery
from webapp.models import PRIORITIES, Item, ItemEvent, User
from webapp.models.types import MAX_ID
from webapp.notifications import outbox
from webapp.services.errors import (
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from webapp.services.people import get_person, touch_plates

GAP = 1024.0
PRIORITY_RANK = {priority: rank for rank, priority in enumerate(PRIORITIES)}
EDITABLE_FIELDS = ("title", "notes", "priority", "urgent", "due_on")


# --- positions: sparse floats, so placing an item never touches its neighbours -------------

def _open_positions(session: Session, owner_id: int, exclude_id: int | None):
    query = select(Item.position).where(Item.owner_id == owner_id, Item.status == "open")
    return query if exclude_id is None else query.where(Item.id != exclude_id)


def _between(lo: float | None, hi: float | None) -> float | None:
    """A position strictly between two neighbours, or None when floats have no room left there."""
    if lo is None and hi is None:
        return GAP
    if lo is None:
        return hi - GAP
    if hi is None:
        return lo + GAP
    middle = (lo + hi) / 2
    return middle if lo < middle < hi else None


def _renumber(session: Session, owner_id: int) -> None:
    """Spread an owner's open items GAP apart, keeping their order (rarely needed)."""
    ids = session.scalars(
        select(Item.id).where(Item.owner_id == owner_id, Item.status == "open").order_by(Item.position, Item.id)
    ).all()
    for index, item_id in enumerate(ids, start=1):
        session.execute(update(Item).where(Item.id == item_id).values(position=index * GAP))


def _place(session: Session, owner_id: int, item_id: int | None, neighbours) -> float:
    """Compute a position from a function returning (lo, hi); renumber once if there is no room."""
    position = _between(*neighbours())
    if position is None:
        _renumber(session, owner_id)
        position = _between(*neighbours())
    return position


def default_position(session: Session, owner_id: int, priority: str, item_id: int | None = None) -> float:
    """After the last open item of the same or higher priority."""
    higher = [p for p in PRIORITIES if PRIORITY_RANK[p] <= PRIORITY_RANK[priority]]

    def neighbours():
        positions = _open_positions(session, owner_id, item_id).subquery()
        lo = session.scalar(
            select(func.max(Item.position)).where(
                Item.owner_id == owner_id, Item.status == "open", Item.priority.in_(higher),
                *([Item.id != item_id] if item_id else []),
            )
        )
        above = select(func.min(positions.c.position))
        hi = session.scalar(above if lo is None else above.where(positions.c.position > lo))
        return lo, hi

    return _place(session, owner_id, item_id, neighbours)


def top_position(session: Session, owner_id: int) -> float:
    """Before the first open item: the place for work that must not wait behind anything."""

    def neighbours():
        return None, session.scalar(select(func.min(Item.position)).where(Item.owner_id == owner_id, Item.status == "open"))

    return _place(session, owner_id, None, neighbours)


def relative_position(session: Session, owner: User, item_id: int | None, before_id=None, after_id=None) -> float:
    """Directly before or after another open item of the same plate."""
    field, anchor_id = ("before_id", before_id) if before_id is not None else ("after_id", after_id)
    if anchor_id == item_id:
        raise Invalid(field, "An item cannot be placed next to itself.")
    anchor = session.get(Item, anchor_id)
    if anchor is None or anchor.owner_id != owner.id or anchor.status != "open":
        raise Invalid(field, f"Item {anchor_id} is not an open item on {owner.name}'s plate.")

    def neighbours():
        anchor_position = session.scalar(select(Item.position).where(Item.id == anchor_id))
        positions = _open_positions(session, owner.id, item_id).subquery()
        if before_id is not None:
            lo = session.scalar(select(func.max(positions.c.position)).where(positions.c.position < anchor_position))
            return lo, anchor_position
        hi = session.scalar(select(func.min(positions.c.position)).where(positions.c.position > anchor_position))
        return anchor_position, hi

    return _place(session, owner.id, item_id, neighbours)


def _position_for(session: Session, owner: User, priority: str, data: dict, item_id: int | None = None) -> float:
    before_id, after_id = data.get("before_id"), data.get("after_id")
    if before_id is not None and after_id is not None:
        raise Invalid("before_id", "Send before_id or after_id, not both.")
    if data.get("placement") == "top":
        return top_position(session, owner.id)
    if before_id is None and after_id is None:
        return default_position(session, owner.id, priority, item_id)
    return relative_position(session, owner, item_id, before_id, after_id)


# --- history ---------------------------------------------------------------------------

def _json_value(value: Any) -> Any:
    """A changed field's value as the API shows it: dates ISO, instants ISO 8601 UTC with Z."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _record(session: Session, item: Item, actor: User, action: str, changes: dict[str, tuple], at: datetime) -> None:
    changes = {field: [_json_value(old), _json_value(new)] for field, (old, new) in changes.items()}
    session.add(ItemEvent(item_id=item.id, actor_id=actor.id, at=at, action=action, changes=changes))


# --- commands ----------------------------------------------------------------------------

def add_item(session: Session, actor: User, data: dict, team_request_id: int | None = None) -> Item:
    """Put an item on a plate; `placement: "top"` puts it first, else before_id/after_id or the default place."""
    owner = get_person(session, actor, data["owner_id"])
    if not permissions.may_add_to(session, actor, owner):
        raise Forbidden(f"You may not add items to {owner.name}'s plate.")
    priority = data.get("priority", "normal")
    at = now()
    item = Item(
        organization_id=actor.organization_id,
        owner=owner,
        created_by=actor,
        title=data["title"].strip(),
        notes=data.get("notes", ""),
        priority=priority,
        urgent=data.get("urgent", False),
        due_on=data.get("due_on"),
        position=_position_for(session, owner, priority, data),
        team_request_id=team_request_id,
        created_at=at,
        updated_at=at,
    )
    session.add(item)
    session.flush()
    fields = {"title": item.title, "owner_id": owner.id, "priority": priority, "urgent": item.urgent, "due_on": item.due_on}
    if item.notes:
        fields["notes"] = item.notes
    _record(session, item, actor, "created", {k: (None, v) for k, v in fields.items()}, at)
    touch_plates(session, [owner.id])
    outbox.item_added(session, item, actor)
    return item


def get_item(session: Session, actor: User, item_id: int) -> Item:
    """An item the actor may see; any other answers as if it did not exist."""
    item = session.get(Item, item_id) if 0 < item_id <= MAX_ID else None
    if item is None or item.organization_id != actor.organization_id or not permissions.may_view_item(session, actor, item):
        raise NotFound("No such item.")
    return item


def check_version(item: Item, if_match: list[str] | None) -> None:
    """Optimistic concurrency: edits must name the version they were made from."""
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the item's ETag, so edits made from an old copy are caught.")
    if "*" not in if_match and str(item.version) not in if_match:
        raise PreconditionFailed(
            f"This item changed since you loaded it (now version {item.version}).", current=item
        )


def claim_version(session: Session, item: Item) -> None:
    """Bump the stored version only if it is still the one read: of simultaneous edits of one version, one wins.

    The conditional UPDATE waits for a concurrent edit's row lock (PostgreSQL) or write lock (SQLite)
    and then matches no row if that edit committed, so the loser answers 412 instead of overwriting.
    """
    claimed = session.execute(
        update(Item).where(Item.id == item.id, Item.version == item.version)
        .values(version=Item.version + 1).execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        session.refresh(item)
        raise PreconditionFailed(f"This item changed since you loaded it (now version {item.version}).", current=item)


def _status_change(item: Item, data: dict, at: datetime) -> tuple[str | None, dict[str, tuple]]:
    """Apply a status change; returns the history action and the changed fields."""
    new_status = data.get("status", item.status)
    reason = data["drop_reason"].strip() if "drop_reason" in data else None
    if reason is not None and new_status != "dropped":
        raise Invalid("drop_reason", "A drop reason goes with status 'dropped'.")
    if new_status == "dropped" and not (reason or (reason is None and item.status == "dropped")):
        raise Invalid("drop_reason", "Say why this item is no longer needed.")
    if new_status == item.status:
        if reason is not None and reason != item.drop_reason:
            return None, {"drop_reason": (item.drop_reason, reason)}
        return None, {}
    changes: dict[str, tuple] = {"status": (item.status, new_status)}
    if new_status == "dropped":
        changes.update(drop_reason=(item.drop_reason, reason), dropped_at=(item.dropped_at, at),
                       completed_at=(item.completed_at, None), drop_kind=(item.drop_kind, None))
        return "dropped", changes
    if new_status == "done":
        changes.update(completed_at=(item.completed_at, at), dropped_at=(item.dropped_at, None),
                       drop_reason=(item.drop_reason, None), drop_kind=(item.drop_kind, None))
        return "completed", changes
    changes.update(completed_at=(item.completed_at, None), dropped_at=(item.dropped_at, None),
                   drop_reason=(item.drop_reason, None), drop_kind=(item.drop_kind, None))
    return "reopened", changes


def update_item(session: Session, actor: User, item_id: int, if_match: list[str] | None, data: dict) -> Item:
    """Edit, complete, drop, reopen or reassign an item, as one versioned change."""
    item = get_item(session, actor, item_id)
    check_version(item, if_match)
    at = now()
    changes = _field_changes(item, data)
    action, status_changes = _status_change(item, data, at)
    changes.update({k: v for k, v in status_changes.items() if v[0] != v[1]})

    owner = item.owner
    if "owner_id" in data and data["owner_id"] != item.owner_id:
        owner = get_person(session, actor, data["owner_id"])
        if not permissions.may_add_to(session, actor, owner):
            raise Forbidden(f"You may not move items onto {owner.name}'s plate.")
        changes["owner_id"] = (item.owner_id, owner.id)
        action = action or "reassigned"
    if not changes:
        return item
    if changes.get("urgent") == (False, True) and not permissions.may_add_to(session, actor, owner):
        raise Forbidden(f"Only people who may add items to {owner.name}'s plate may mark them urgent.")
    claim_version(session, item)

    for field, (_old, new) in changes.items():
        if field != "owner_id":
            setattr(item, field, new)
    if "owner_id" in changes:
        item.owner = owner
    becomes_open = item.status == "open" and ("status" in changes or "owner_id" in changes)
    if becomes_open:
        item.position = default_position(session, owner.id, item.priority, item.id)
    item.version += 1
    item.updated_at = at
    _record(session, item, actor, action or "updated", changes, at)
    touch_plates(session, {item.owner_id, *(changes.get("owner_id") or ())})
    outbox.item_changed(session, item, actor, action or "updated", changes)
    return item


def edit_fields(session: Session, actor: User, item: Item, data: dict) -> dict[str, tuple]:
    """Edit an item's title, notes, priority, urgency or due date as one recorded, versioned change.

    For callers that decided the edit themselves (a team request edited as a whole), so no If-Match.
    """
    changes = _field_changes(item, data)
    if changes:
        apply_change(session, actor, item, "updated", changes, now())
    return changes


def _field_changes(item: Item, data: dict) -> dict[str, tuple]:
    changes: dict[str, tuple] = {}
    for field in EDITABLE_FIELDS:
        if field in data:
            value = data[field].strip() if field == "title" else data[field]
            if value != getattr(item, field):
                changes[field] = (getattr(item, field), value)
    return changes


def apply_change(session: Session, actor: User, item: Item, action: str, changes: dict[str, tuple],
                 at: datetime) -> Item:
    """Apply field changes a caller has already checked as one versioned change, recorded like update_item's."""
    claim_version(session, item)
    for field, (_old, new) in changes.items():
        setattr(item, field, new)
    item.version += 1
    item.updated_at = at
    _record(session, item, actor, action, changes, at)
    touch_plates(session, [item.owner_id])
    outbox.item_changed(session, item, actor, action, changes)
    return item


def move_item(session: Session, actor: User, item_id: int, data: dict) -> Item:
    """Reorder within the owner's plate; last writer wins, so no If-Match is asked for."""
    item = get_item(session, actor, item_id)
    if item.status != "open":
        raise Invalid("status", "Only open items can be moved; reopen it first.")
    if (data.get("before_id") is None) == (data.get("after_id") is None):
        raise Invalid("before_id", "Send exactly one of before_id or after_id.")
    old = item.position
    item.position = _position_for(session, item.owner, item.priority, data, item.id)
    item.version = Item.version + 1  # in SQL: a move beside a concurrent edit still ends at a version of its own
    item.updated_at = now()
    anchor = {k: v for k, v in data.items() if k in ("before_id", "after_id") and v is not None}
    _record(session, item, actor, "moved", {"position": (old, item.position), **{k: (None, v) for k, v in anchor.items()}},
            item.updated_at)
    touch_plates(session, [item.owner_id])
    session.flush()  # the new version is read back from the row
    return item


def history(session: Session, actor: User, item_id: int) -> list[ItemEvent]:
    item = get_item(session, actor, item_id)
    return list(session.scalars(select(ItemEvent).where(ItemEvent.item_id == item.id).order_by(ItemEvent.id)))


# --- reading a plate ----------------------------------------------------------------------

# For each status filter: the sort columns and whether newest comes first.
_PLATE_ORDER = {
    "open": ((Item.position, Item.id), False),
    "done": ((Item.completed_at, Item.id), True),
    "dropped": ((Item.dropped_at, Item.id), True),
    "all": ((Item.updated_at, Item.id), True),
}


@dataclass
class PlatePage:
    person: User
    items: list[Item]
    next_cursor: str | None


def _encode_cursor(item: Item, columns) -> str:
    values = [getattr(item, column.key) for column in columns]
    values = [value.isoformat() if isinstance(value, datetime) else value for value in values]  # full precision
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, columns) -> tuple:
    """The (sort value, id) a cursor holds, checked as strictly as any other input: it comes from the client."""
    try:
        first, item_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if columns[0].key in ("completed_at", "dropped_at", "updated_at"):
            first = datetime.fromisoformat(first)
            if first.tzinfo is None:
                raise ValueError(first)
        elif isinstance(first, bool) or not isinstance(first, int | float) or not math.isfinite(first):
            raise ValueError(first)
        if isinstance(item_id, bool) or not isinstance(item_id, int) or not 0 < item_id <= MAX_ID:
            raise ValueError(item_id)
        return first, item_id
    except (ValueError, TypeError, binascii.Error):
        raise Invalid("cursor", "This cursor is not valid for this list; start again without it.", "query") from None


@dataclass(frozen=True)
class PlateAccess:
    """A plate the caller may read, and what names its current rendering (see api/plate_cache.py)."""

    owner_id: int
    plate_version: int
    time_zone: str


_PLATE_ACCESS = LeanQuery(
    select(User.organization_id, User.plate_version, User.time_zone, User.name,
           permissions.plate_visible_to(bindparam("actor_id"), bindparam("owner_id")))
    .where(User.id == bindparam("owner_id"))
)


def plate_access(engine: Engine, caller, person_id: int) -> PlateAccess:
    """Whose plate, at which version, if the caller may see it: one lean query, none for one's own plate."""
    if person_id == caller.id:
        return PlateAccess(caller.id, caller.plate_version, caller.time_zone)
    row = _PLATE_ACCESS.first(engine, owner_id=person_id, actor_id=caller.id) if 0 < person_id <= MAX_ID else None
    if row is None or row[0] != caller.organization_id:
        raise NotFound("No such person.")
    _, plate_version, time_zone, name, visible = row
    if not visible:
        raise Forbidden(f"Only {name} and their managers may see this plate.")
    return PlateAccess(person_id, plate_version, time_zone)


def plate(session: Session, person: User, status: str, limit: int, cursor: str | None) -> PlatePage:
    """One page of a person's plate (see plate_access for who may read it), in a single query."""
    columns, newest_first = _PLATE_ORDER[status]
    query = select(Item).where(Item.owner_id == person.id)
    if status != "all":
        query = query.where(Item.status == status)
    if cursor:
        after = _decode_cursor(cursor, columns)
        key = tuple_(*columns)
        query = query.where(key < after if newest_first else key > after)
    query = query.order_by(*(c.desc() if newest_first else c for c in columns)).limit(limit + 1)
    items = list(session.scalars(query).unique())
    more = len(items) > limit
    items = items[:limit]
    return PlatePage(person, items, _encode_cursor(items[-1], columns) if more else None)

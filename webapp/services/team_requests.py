"""Team requests ("ask everyone"): one ask of several people, one item on each plate, followed as a whole.

The items are made by add_item, exactly as if the requester had added each one, and stay ordinary
items: each assignee completes, drops or edits their own. The request only links them
(items.team_request_id) so the requester can watch progress, edit what is still open and remind.
Reads load the requests and then all their items in one query, whatever the number of assignees.
"""
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from webapp.auth import permissions
from webapp.clock import local_today, now
from webapp.models import STATUSES, Item, TeamRequest, User
from webapp.models.types import MAX_ID
from webapp.notifications import outbox
from webapp.services import items as item_service
from webapp.services.errors import Forbidden, Invalid, NotFound

ITEM_FIELDS = ("title", "notes", "priority", "urgent", "due_on")
EDITABLE_FIELDS = ("title", "notes", "priority", "due_on")


@dataclass
class RequestProgress:
    """A request with where each assignee's item stands."""

    request: TeamRequest
    counts: dict[str, int]
    overdue: int
    assignees: list[dict]
    items: list[Item] = field(default_factory=list)


def on_time(item: Item) -> bool | None:
    """Done on or before its due date in the owner's zone; None while not done or without a due date."""
    if item.status != "done" or item.due_on is None or item.completed_at is None:
        return None
    return item.completed_at.astimezone(ZoneInfo(item.owner.time_zone)).date() <= item.due_on


def _progress(request: TeamRequest, items: list[Item], at: datetime) -> RequestProgress:
    counts = dict.fromkeys(STATUSES, 0)
    overdue = 0
    assignees = []
    for item in sorted(items, key=lambda i: (i.owner.name, i.owner.id)):
        counts[item.status] += 1
        if item.status == "open" and item.due_on is not None and item.due_on < local_today(item.owner.time_zone, at):
            overdue += 1
        assignees.append({"person": item.owner, "item_id": item.id, "status": item.status,
                          "completed_at": item.completed_at, "due_on": item.due_on, "on_time": on_time(item)})
    return RequestProgress(request, counts, overdue, assignees)


def _items_of(session: Session, request_ids: list[int]) -> dict[int, list[Item]]:
    """Every item of these requests (owners joined), in one query."""
    by_request: dict[int, list[Item]] = {request_id: [] for request_id in request_ids}
    if request_ids:
        for item in session.scalars(select(Item).where(Item.team_request_id.in_(request_ids))).unique():
            by_request[item.team_request_id].append(item)
    return by_request


# --- who is asked -----------------------------------------------------------------------------

def _assignees(session: Session, actor: User, data: dict) -> list[User]:
    """The people the request goes to, all below the requester, or an error naming what is wrong."""
    in_org = select(User).where(User.organization_id == actor.organization_id).order_by(User.name, User.id)
    if "assignee_ids" in data:
        ids = data["assignee_ids"]
        people = session.scalars(in_org.where(User.id.in_(ids))).all()
        if len(people) != len(ids):
            missing = sorted(set(ids) - {person.id for person in people})
            raise NotFound(f"No such person: {', '.join(map(str, missing))}.")
        below = set(session.scalars(select(User.id).where(User.id.in_(ids), User.id.in_(permissions.ids_below(actor.id)))))
        out_of_reach = [person.name for person in people if person.id not in below]
        if out_of_reach:
            raise Forbidden(f"You may only ask people below you, and {', '.join(out_of_reach)} "
                            f"{'is' if len(out_of_reach) == 1 else 'are'} not. Nothing was added.")
        return list(people)
    if data.get("all_reports"):
        people = session.scalars(in_org.where(User.manager_id == actor.id)).all()
        if not people:
            raise Invalid("all_reports", "Nobody reports to you yet, so there is nobody to ask.")
        return list(people)
    people = session.scalars(in_org.where(User.id.in_(permissions.ids_below(actor.id)))).all()
    if not people:
        raise Invalid("all_below", "Nobody is below you yet, so there is nobody to ask.")
    return list(people)


# --- commands ---------------------------------------------------------------------------------

def create_request(session: Session, actor: User, data: dict) -> RequestProgress:
    """Ask everyone chosen at once: one item on each plate, all added or none (the caller commits)."""
    assignees = _assignees(session, actor, data)
    at = now()
    values = {"title": data["title"].strip(), "notes": data.get("notes", ""), "priority": data["priority"],
              "urgent": data.get("urgent", False), "due_on": data.get("due_on")}
    request = TeamRequest(organization_id=actor.organization_id, created_by=actor, created_at=at, updated_at=at,
                          **values)
    session.add(request)
    session.flush()
    placement = data.get("placement", "default")
    items = [item_service.add_item(session, actor, {"owner_id": person.id, "placement": placement, **values},
                                   team_request_id=request.id)
             for person in assignees]
    progress = _progress(request, items, at)
    progress.items = items
    return progress


def get_request(session: Session, actor: User, request_id: int) -> TeamRequest:
    """A request the actor may follow: the requester's and their managers'; others in the org get 403."""
    request = session.get(TeamRequest, request_id) if 0 < request_id <= MAX_ID else None
    if request is None or request.organization_id != actor.organization_id:
        raise NotFound("No such team request.")
    if not permissions.may_view_plate(session, actor, request.created_by):  # the requester and anyone above
        raise Forbidden(f"Only {request.created_by.name} and their managers may follow this request.")
    return request


def request_progress(session: Session, actor: User, request_id: int) -> RequestProgress:
    request = get_request(session, actor, request_id)
    return _progress(request, _items_of(session, [request.id])[request.id], now())


def list_requests(session: Session, actor: User, mine: bool, limit: int) -> list[RequestProgress]:
    """Newest first: the actor's own requests, and unless `mine`, those of everyone below them too."""
    query = select(TeamRequest).where(TeamRequest.organization_id == actor.organization_id)
    if mine:
        query = query.where(TeamRequest.created_by_id == actor.id)
    else:
        query = query.where(or_(TeamRequest.created_by_id == actor.id,
                                TeamRequest.created_by_id.in_(permissions.ids_below(actor.id))))
    requests = session.scalars(query.order_by(TeamRequest.id.desc()).limit(limit)).all()
    items = _items_of(session, [request.id for request in requests])
    at = now()
    return [_progress(request, items[request.id], at) for request in requests]


def update_request(session: Session, actor: User, request_id: int, data: dict) -> RequestProgress:
    """Edit the request and its open items; finished items keep what they were done or dropped as."""
    request = get_request(session, actor, request_id)
    values = {name: data[name].strip() if name == "title" else data[name] for name in EDITABLE_FIELDS if name in data}
    changed = {name: value for name, value in values.items() if getattr(request, name) != value}
    items = _items_of(session, [request.id])[request.id]
    if changed:
        at = now()
        for name, value in changed.items():
            setattr(request, name, value)
        request.updated_at = at
        for item in items:
            if item.status == "open":
                item_service.edit_fields(session, actor, item, changed)
    return _progress(request, items, now())


def remind(session: Session, actor: User, request_id: int) -> int:
    """Put one reminder in the next digest of everyone whose item is still open; never an immediate push."""
    request = get_request(session, actor, request_id)
    still_open = [item for item in _items_of(session, [request.id])[request.id] if item.status == "open"]
    for item in still_open:
        outbox.remind(session, item, actor)
    return len(still_open)

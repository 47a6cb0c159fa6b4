"""The "Still needed?" review: open items that have sat too long or are well overdue, and answering it.

An item comes up for review when it is open, on the plate of the reviewer or of one of their direct
reports, and either older than the organization's review_after_days (counted from when it was made or,
if someone kept it later, from then) or at least OVERDUE_DAYS past its due date in the owner's zone.
Keeping it (with a due date) or dropping it (with a reason) takes it out of the review.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from webapp.auth import permissions
from webapp.clock import local_today, now
from webapp.models import Item, Organization, User
from webapp.services import items
from webapp.services.errors import Forbidden, Invalid

OVERDUE_DAYS = 7
NO_LONGER_NEEDED = "no_longer_needed"


@dataclass
class ReviewEntry:
    item: Item
    reasons: list[str]  # "old", "overdue"
    age_days: int  # since the item was made, or last kept
    overdue_days: int  # 0 when not overdue


def _reviewed_owner_ids(user: User):
    """A SELECT of the reviewer's own id and their direct reports' ids."""
    return select(User.id).where(or_(User.id == user.id, User.manager_id == user.id))


def _candidates(session: Session, user: User, old_before: datetime, at: datetime) -> list[Item]:
    """One query for every item that may be up for review, oldest first.

    "Overdue" depends on each owner's local date, which SQL cannot compute portably: the query keeps
    every item due on or before the latest date that can be OVERDUE_DAYS overdue anywhere on Earth
    (the UTC date + 1 - OVERDUE_DAYS), and `_entry` decides precisely in the owner's zone.
    """
    overdue_on_or_before = at.date() + timedelta(days=1 - OVERDUE_DAYS)
    query = (
        select(Item)
        .where(
            Item.owner_id.in_(_reviewed_owner_ids(user)),
            Item.status == "open",
            or_(
                and_(Item.created_at < old_before, or_(Item.kept_at.is_(None), Item.kept_at < old_before)),
                Item.due_on <= overdue_on_or_before,
            ),
        )
        .order_by(func.coalesce(Item.kept_at, Item.created_at), Item.id)
    )
    return list(session.scalars(query).unique())


def _entry(item: Item, at: datetime, old_before: datetime) -> ReviewEntry | None:
    """The review entry for a candidate item, or None when it is not (yet) up for review."""
    since = max(item.created_at, item.kept_at or item.created_at)
    today: date = local_today(item.owner.time_zone, at)
    overdue_days = (today - item.due_on).days if item.due_on is not None and item.due_on < today else 0
    reasons = [reason for reason, applies in (("old", since < old_before), ("overdue", overdue_days >= OVERDUE_DAYS))
               if applies]
    if not reasons:
        return None
    return ReviewEntry(item, reasons, (at - since).days, overdue_days)


def review_entries(session: Session, user: User) -> list[ReviewEntry]:
    """The items waiting in `user`'s review, oldest first."""
    at = now()
    old_before = at - timedelta(days=review_after_days(session, user))
    entries = (_entry(item, at, old_before) for item in _candidates(session, user, old_before, at))
    return [entry for entry in entries if entry is not None]


def waiting_count(session: Session, user: User) -> int:
    """How many items wait in `user`'s review (the Monday digest says so)."""
    return len(review_entries(session, user))


# --- answering the review ------------------------------------------------------------------

def _reviewable(session: Session, actor: User, item_id: int) -> Item:
    """An open item the actor may keep or drop: their own, or one of someone below them."""
    item = items.get_item(session, actor, item_id)
    if not permissions.may_view_plate(session, actor, item.owner):
        raise Forbidden(f"Only {item.owner.name} and their managers may keep or drop this item.")
    if item.status != "open":
        raise Invalid("status", f"This item is already {item.status}; only open items are reviewed.")
    return item


def keep(session: Session, actor: User, item_id: int, due_on: date) -> Item:
    """"Still needed: yes, by this date": the item leaves the review and its age counts from now."""
    item = _reviewable(session, actor, item_id)
    today = local_today(item.owner.time_zone)
    if due_on < today:
        raise Invalid("due_on", f"Pick today ({today.isoformat()}) or a later date.")
    at = now()
    changes: dict[str, tuple] = {"kept_at": (item.kept_at, at)}
    if due_on != item.due_on:
        changes["due_on"] = (item.due_on, due_on)
    return items.apply_change(session, actor, item, "kept", changes, at)


def drop(session: Session, actor: User, item_id: int, reason: str) -> Item:
    """"No longer needed": dropped with a reason, and counted apart in the record as good prioritization."""
    item = _reviewable(session, actor, item_id)
    reason = reason.strip()
    if not reason:
        raise Invalid("reason", "Say why this item is no longer needed.")
    at = now()
    changes = {
        "status": (item.status, "dropped"),
        "drop_reason": (item.drop_reason, reason),
        "drop_kind": (item.drop_kind, NO_LONGER_NEEDED),
        "dropped_at": (item.dropped_at, at),
    }
    return items.apply_change(session, actor, item, "dropped", changes, at)


# --- the organization's setting ------------------------------------------------------------

def review_after_days(session: Session, user: User) -> int:
    return session.get(Organization, user.organization_id).review_after_days


def update_settings(session: Session, actor: User, data: dict) -> Organization:
    if not permissions.may_change_organization_settings(actor):
        raise Forbidden("Only admins may change when items come up for review.")
    organization = session.get(Organization, actor.organization_id)
    organization.review_after_days = data.get("review_after_days", organization.review_after_days)
    return organization

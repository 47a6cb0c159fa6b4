"""Organizations, accounts, invitations and the reporting line."""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.auth import permissions
from webapp.auth.passwords import check_password, hash_password, password_matches
from webapp.clock import local_today, now
from webapp.models import Invitation, Item, Organization, User
from webapp.models.types import MAX_ID
from webapp.notifications import outbox
from webapp.services.errors import Conflict, Forbidden, Gone, Invalid, NotFound


@cache
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_time_zone(name: str, field: str = "time_zone") -> str:
    if name not in time_zones():
        raise Invalid(field, f"Unknown time zone {name!r}; use an IANA name such as Europe/Berlin.")
    return name


def _ensure_email_free(session: Session, email: str, field: str = "email") -> None:
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise _email_taken(field)


def _email_taken(field: str = "email") -> Conflict:
    return Conflict("An account with this email already exists.", errors={"json": {field: ["Already registered."]}})


def _new_user(session: Session, organization: Organization, data: dict, **fields) -> User:
    email = normalize_email(data["email"])
    _ensure_email_free(session, email)
    user = User(
        organization=organization,
        name=data["name"].strip(),
        email=email,
        password_hash=hash_password(check_password(data["password"], email)),
        time_zone=check_time_zone(data["time_zone"]),
        **fields,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # the same email was registered concurrently, e.g. a double-submitted form
        raise _email_taken() from None
    return user


def create_organization(session: Session, data: dict) -> User:
    """A new organization with its first person, who administers it."""
    organization = Organization(name=data["name"].strip())
    session.add(organization)
    return _new_user(session, organization, data["admin"], is_admin=True)


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    return user if password_matches(user.password_hash if user else None, password) else None


def update_me(session: Session, user: User, data: dict) -> bool:
    """Apply a profile change; True when the password changed (other sessions must end)."""
    if "name" in data and data["name"].strip() != user.name:
        user.name = data["name"].strip()
        # Items show their owner's and creator's names: every plate holding such an item changes.
        touch_plates(session, select(Item.owner_id).where(Item.created_by_id == user.id).distinct())
        touch_plates(session, [user.id])
    if "time_zone" in data and data["time_zone"] != user.time_zone:
        user.time_zone = check_time_zone(data["time_zone"])
        touch_plates(session, [user.id])  # "overdue" is judged by the owner's local date
        outbox.reschedule(session, user)  # digests and reminders follow the person's new zone
    if "password" not in data:
        if "current_password" in data:
            raise Invalid("password", "Send the new password along with current_password.")
        return False
    if not password_matches(user.password_hash, data.get("current_password", "")):
        raise Invalid("current_password", "Your current password is needed to set a new one, and it did not match.")
    user.password_hash = hash_password(check_password(data["password"], user.email))
    user.session_epoch += 1
    return True


def touch_plates(session: Session, owner_ids) -> None:
    """Mark plates as changed (ids or a SELECT of ids), so cached renderings of them are not served."""
    session.execute(
        update(User).where(User.id.in_(owner_ids)).values(plate_version=User.plate_version + 1),
        execution_options={"synchronize_session": False},
    )


def get_person(session: Session, actor: User, person_id: int) -> User:
    """A person of the actor's organization; anyone else does not exist."""
    person = session.get(User, person_id) if 0 < person_id <= MAX_ID else None
    if person is None or person.organization_id != actor.organization_id:
        raise NotFound("No such person.")
    return person


def _token_hash(token: str) -> str:
    """Tokens are stored and looked up by their SHA-256 only.

    That makes the look-up constant-time where it matters: the database compares hashes, and how
    long that takes tells an attacker nothing about a token, since they cannot choose a hash's
    prefix. A leaked database holds no usable token (256 random bits cannot be found from the hash).
    """
    return hashlib.sha256(token.encode()).hexdigest()


def invite(session: Session, actor: User, data: dict) -> tuple[Invitation, str]:
    """Create a single-use invitation and return it with its token (only its hash is stored)."""
    manager_id = data.get("manager_id", actor.id)
    manager = get_person(session, actor, manager_id) if manager_id is not None else None
    if not permissions.may_invite(session, actor, manager, data.get("is_admin", False)):
        raise Forbidden("You may invite people to report to you or to someone in your team; admins may invite anyone.")
    email = normalize_email(data["email"])
    _ensure_email_free(session, email)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization_id=actor.organization_id,
        email=email,
        name=data["name"].strip(),
        manager_id=manager_id,
        is_admin=data.get("is_admin", False),
        invited_by_id=actor.id,
        token_hash=_token_hash(token),
        expires_at=now() + timedelta(days=7),
    )
    session.add(invitation)
    return invitation, token


def find_invitation(session: Session, token: str) -> Invitation:
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))
    if invitation is None:
        raise NotFound("This invitation does not exist. Ask for a new one.")
    if invitation.accepted_at is not None:
        raise Gone("This invitation has already been used. Log in instead.")
    if invitation.expires_at <= now():
        raise Gone("This invitation has expired. Ask for a new one.")
    return invitation


def invitation_preview(session: Session, token: str) -> dict:
    """What the accept page shows before an account exists: who invites whom, into which organization."""
    invitation = find_invitation(session, token)
    return {
        "email": invitation.email,
        "name": invitation.name,
        "organization": session.get(Organization, invitation.organization_id),
        "invited_by": session.get(User, invitation.invited_by_id),
        "expires_at": invitation.expires_at,
    }


def accept_invitation(session: Session, token: str, data: dict) -> User:
    invitation = find_invitation(session, token)
    organization = session.get(Organization, invitation.organization_id)
    user = _new_user(
        session,
        organization,
        {"email": invitation.email, "name": data.get("name") or invitation.name, **data},
        manager_id=invitation.manager_id,
        is_admin=invitation.is_admin,
    )
    session.flush()
    invitation.accepted_at = now()
    invitation.accepted_user_id = user.id
    return user


def update_person(session: Session, actor: User, person_id: int, data: dict) -> User:
    """Admins set who someone reports to and whether they administer the organization."""
    person = get_person(session, actor, person_id)
    if not permissions.may_manage_people(actor):
        raise Forbidden("Only admins may change managers and admin rights.")
    if "manager_id" in data:
        manager_id = data["manager_id"]
        if manager_id is not None:
            manager = get_person(session, actor, manager_id)
            if manager.id == person.id or permissions.is_above(session, person, manager):
                raise Invalid("manager_id", f"{manager.name} reports to {person.name}; that would make a cycle.")
        person.manager_id = manager_id
    if "is_admin" in data:
        if not data["is_admin"] and person.is_admin:
            admins = session.scalar(
                select(func.count()).where(User.organization_id == actor.organization_id, User.is_admin)
            )
            if admins <= 1:
                raise Invalid("is_admin", "An organization needs at least one admin.")
        person.is_admin = data["is_admin"]
    return person


@dataclass
class PersonRow:
    person: User
    open_items: int | None
    overdue_items: int | None
    high_items: int | None = None


def list_people(session: Session, actor: User) -> list[PersonRow]:
    """Everyone in the organization, with plate counts for those whose plate the actor may see."""
    people = session.scalars(
        select(User).where(User.organization_id == actor.organization_id).order_by(User.name, User.id)
    ).all()
    visible = {actor.id, *session.scalars(permissions.ids_below(actor.id))}
    counts = _open_counts(session, [p.id for p in people if p.id in visible])
    rows = []
    for person in people:
        if person.id not in visible:
            rows.append(PersonRow(person, None, None))
            continue
        c = counts.get(person.id) or _OpenCounts(0, 0, 0, 0, 0, now().date())
        rows.append(PersonRow(person, c.open, c.overdue_on(local_today(person.time_zone)), c.high))
    return rows


@dataclass
class _OpenCounts:
    open: int
    high: int
    surely_overdue: int
    due_day_before: int
    due_utc_day: int
    utc_today: date

    def overdue_on(self, today: date) -> int:
        """Every zone's today is within a day of UTC's, so only two due dates depend on the zone."""
        overdue = self.surely_overdue
        if self.utc_today - timedelta(days=1) < today:
            overdue += self.due_day_before
        if self.utc_today < today:
            overdue += self.due_utc_day
        return overdue


def _open_counts(session: Session, owner_ids: list[int]) -> dict[int, _OpenCounts]:
    """Open and overdue counts per owner in one grouped query."""
    if not owner_ids:
        return {}
    utc_today = now().date()
    day_before = utc_today - timedelta(days=1)
    rows = session.execute(
        select(
            Item.owner_id,
            func.count(),
            func.sum(case((Item.priority == "high", 1), else_=0)),
            func.sum(case((Item.due_on < day_before, 1), else_=0)),
            func.sum(case((Item.due_on == day_before, 1), else_=0)),
            func.sum(case((Item.due_on == utc_today, 1), else_=0)),
        )
        .where(Item.owner_id.in_(owner_ids), Item.status == "open")
        .group_by(Item.owner_id)
    )
    return {owner: _OpenCounts(n, h or 0, a or 0, b or 0, c or 0, utc_today) for owner, n, h, a, b, c in rows}

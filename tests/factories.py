"""Test factories: people and items built through the same services the API uses."""
from itertools import count

from werkzeug.security import generate_password_hash

from webapp.extensions import db
from webapp.models import Organization, User
from webapp.services import items

PASSWORD = "correct horse battery"
PASSWORD_HASH = generate_password_hash(PASSWORD)  # hashed once: scrypt is slow by design
_serial = count(1)


def make_org(name: str = "Acme Field Sales") -> Organization:
    organization = Organization(name=name)
    db.session.add(organization)
    db.session.flush()
    return organization


def make_user(org: Organization, name: str | None = None, manager: User | None = None, *,
              time_zone: str = "Europe/Berlin", is_admin: bool = False, email: str | None = None) -> User:
    n = next(_serial)
    user = User(
        organization_id=org.id,
        name=name or f"Person {n}",
        email=email or f"person{n}@example.test",
        password_hash=PASSWORD_HASH,
        time_zone=time_zone,
        manager_id=manager.id if manager else None,
        is_admin=is_admin,
    )
    db.session.add(user)
    db.session.flush()
    return user


def make_item(owner: User, creator: User | None = None, title: str | None = None, **fields):
    """An item added by `creator` (default: the owner) with the default placement unless given one."""
    data = {"owner_id": owner.id, "title": title or f"Item {next(_serial)}", **fields}
    item = items.add_item(db.session, creator or owner, data)
    db.session.flush()
    return item

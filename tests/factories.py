"""Test factories: people and items built through the same services the API uses."""
from dataclasses import dataclass
from itertools import count

from werkzeug.security import generate_password_hash

from webapp.extensions import db
from webapp.models import Organization, User
from webapp.services import items, people

PASSWORD = "correct horse battery"
# Tests hash with a cheap scrypt (the app fixture passes it as PLATE_PASSWORD_HASH); production keeps
# werkzeug's default cost, slow by design (tests/test_passwords.py checks that).
PASSWORD_METHOD = "scrypt:1024:8:1"
PASSWORD_HASH = generate_password_hash(PASSWORD, method=PASSWORD_METHOD)
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


@dataclass
class Team:
    org: Organization
    boss: User
    manager: User
    rep: User
    junior: User
    peer: User
    outsider: User


def make_team(org: Organization | None = None, *, time_zone: str = "Europe/Berlin") -> Team:
    """A reporting line around `rep`: boss > manager > rep > junior, a peer of rep, and an outsider elsewhere."""
    org = org or make_org()
    boss = make_user(org, "Bea Boss", is_admin=True, time_zone=time_zone)
    manager = make_user(org, "Max Manager", boss, time_zone=time_zone)
    rep = make_user(org, "Rita Rep", manager, time_zone=time_zone)
    junior = make_user(org, "Jo Junior", rep, time_zone=time_zone)
    peer = make_user(org, "Pat Peer", manager, time_zone=time_zone)
    outsider = make_user(make_org("Other Corp"), "Olga Outsider", time_zone=time_zone)
    return Team(org, boss, manager, rep, junior, peer, outsider)


def set_status(item, actor: User | None = None, status: str = "done", **fields):
    """Complete, drop (pass drop_reason) or reopen an item through the service, as the API would."""
    items.update_item(db.session, actor or item.owner, item.id, ["*"], {"status": status, **fields})
    db.session.flush()
    return item


def make_invitation(inviter: User, email: str = "new.rep@example.test", name: str = "Nia New", **fields) -> str:
    """An invitation from `inviter`; returns the token that accepts it."""
    _invitation, token = people.invite(db.session, inviter, {"email": email, "name": name, **fields})
    db.session.flush()
    return token

"""Who is calling: checked on every request with one lean query; the ORM person loads only when a view needs it.

Flask-Login's `current_user` is a Caller. It carries what authentication, authorization and the
plate cache ask of the caller on every request. Views hand services `actor()`, the caller as a
`User` of the request's session, which costs its own query the first time it is asked for.
"""
from flask_login import AnonymousUserMixin, UserMixin, current_user
from sqlalchemy import bindparam, select

from webapp.auth import caller_cache
from webapp.extensions import db
from webapp.lean import LeanQuery
from webapp.models import User
from webapp.models.types import MAX_ID

# Its columns are the ones whose changes the trigger on `users` announces (models/people.py, caller_cache.py).
_CALLER = LeanQuery(
    select(User.id, User.organization_id, User.manager_id, User.is_admin, User.session_epoch, User.time_zone,
           User.plate_version).where(User.id == bindparam("user_id"))
)


class Caller(UserMixin):
    __slots__ = ("id", "organization_id", "manager_id", "is_admin", "session_epoch", "time_zone", "plate_version")

    def __init__(self, id, organization_id, manager_id, is_admin, session_epoch, time_zone, plate_version):
        self.id, self.organization_id, self.manager_id = id, organization_id, manager_id
        self.is_admin, self.session_epoch = bool(is_admin), session_epoch
        self.time_zone, self.plate_version = time_zone, plate_version

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    @property
    def user(self) -> User:
        """This caller in the request's session (the identity map makes it one query per request at most)."""
        return db.session.get(User, self.id)


def load_caller(user_id: int, session_epoch: int) -> Caller | None:
    """The caller of a session that began at this epoch, or None: a password change since then logged it out."""
    if not 0 < user_id <= MAX_ID:
        return None
    engine = db.engine
    cache = caller_cache.usable(engine)
    if cache is None:
        row = _CALLER.first(engine, user_id=user_id)
    else:
        row = cache.get(user_id)
        if row is None:
            version = cache.version()
            row = _CALLER.first(engine, user_id=user_id)
            if row is not None:
                cache.put(user_id, row, version)
    if row is None or row[4] != session_epoch:
        return None
    return Caller(*row)


def caller() -> Caller | User | AnonymousUserMixin:
    """Whoever is calling, loaded at most once per request: the object behind `current_user`.

    Each attribute read through the `current_user` proxy looks the caller up again in the request
    context; code that reads several fields takes the object once.
    """
    return current_user._get_current_object()


def actor() -> User:
    """The logged-in person as a `User`, for services: current_user once it has been loaded as an ORM object."""
    person = caller()
    return person if isinstance(person, User) else person.user

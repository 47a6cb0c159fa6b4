"""Organizations, the session (log in / out) and the caller's own profile."""
from flask import session
from flask_login import current_user, logout_user
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.auth.guard import csrf_token, renew_session, start_session
from webapp.extensions import db
from webapp.schemas import (
    LoginIn,
    MeIn,
    OrganizationCreatedOut,
    OrganizationIn,
    SessionOut,
    UserOut,
)
from webapp.services import people
from webapp.services.errors import DomainError

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Sign up, log in and your profile")


class BadCredentials(DomainError):
    status = 401


@blp.post("/organizations")
@blp.arguments(OrganizationIn())
@blp.response(201, OrganizationCreatedOut)
def create_organization(data):
    """Start a new organization; its first person becomes its admin and is logged in."""
    user = people.create_organization(db.session, data)
    db.session.commit()
    token = start_session(user)
    return {"organization": user.organization, "user": user, "csrf_token": token}


@blp.get("/session")
@blp.response(200, SessionOut)
def get_session():
    """Who is logged in, with the CSRF token for unsafe requests; 401 when nobody is."""
    if not current_user.is_authenticated:
        raise BadCredentials("Not logged in.")
    return {"user": actor(), "csrf_token": csrf_token()}


@blp.post("/session")
@blp.arguments(LoginIn())
@blp.response(200, SessionOut)
def log_in(data):
    """Log in with email and password."""
    user = people.authenticate(db.session, data["email"], data["password"])
    if user is None:
        raise BadCredentials("Email or password is wrong.")
    return {"user": user, "csrf_token": start_session(user)}


@blp.delete("/session")
@blp.response(204)
def log_out():
    """Log out of this device."""
    logout_user()
    session.clear()


@blp.get("/me")
@blp.response(200, UserOut)
def get_me():
    return actor()


@blp.patch("/me")
@blp.arguments(MeIn())
@blp.response(200, UserOut)
def update_me(data):
    """Change your name, time zone or password (with current_password); a new password ends other sessions."""
    user = actor()
    password_changed = people.update_me(db.session, user, data)
    db.session.commit()
    if password_changed:
        renew_session(user)
    return user

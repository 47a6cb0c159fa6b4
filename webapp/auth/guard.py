"""Authentication and CSRF for every API request, checked in this one place before any view runs."""
import hmac
import secrets

from flask import request, session
from flask_login import login_user
from werkzeug.exceptions import Forbidden, Unauthorized, UnsupportedMediaType

from webapp.auth import UNSAFE_METHODS, caller_cache
from webapp.auth.caller import Caller, caller, load_caller
from webapp.clock import now
from webapp.extensions import login_manager
from webapp.models import User
from webapp.security import SESSIONLESS_ENDPOINTS

# Endpoints anyone may call; everything else under /api needs a session.
PUBLIC_ENDPOINTS = {
    "api-docs.openapi_json",
    "accounts.create_organization",
    "accounts.get_session",
    "accounts.log_in",
    "invitations.accept_invitation",
    "invitations.preview_invitation",
}
# Unsafe endpoints that start a session and so cannot carry its CSRF token yet.
CSRF_EXEMPT_ENDPOINTS = {
    "accounts.create_organization",
    "accounts.log_in",
    "invitations.accept_invitation",
}


@login_manager.user_loader
def load_user(session_id: str) -> Caller | None:
    user_id, _, epoch = session_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    return load_caller(int(user_id), int(epoch))


def start_session(user: User) -> str:
    """Log the user in on a fresh session with a new CSRF token, and return the token."""
    session.clear()
    login_user(user, remember=False)
    session.permanent = True
    session["renewed"] = now().date().toordinal()  # this cookie is new today: no re-signing until tomorrow
    session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def renew_session(user: User) -> None:
    """Re-issue this session for the user's new epoch (after a password change), with a new CSRF token.

    The page reads the new token from GET /api/v1/session; a queued offline write that meets the
    old one fetches it there too (outbox-core.js) instead of failing.
    """
    start_session(user)


def csrf_token() -> str:
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def slide_session_expiry() -> None:
    """Renew a logged-in session's cookie once per day of use, so active people stay logged in."""
    today = now().date().toordinal()
    current = session._get_current_object()
    if current.get("_user_id") and current.get("renewed") != today:
        current["renewed"] = today


def guard_api_request() -> None:
    """Reject anonymous calls with 401, unsafe calls without the session's CSRF token with 403, non-JSON bodies with 415."""
    req = request._get_current_object()  # read many times here: the proxy would look it up each time
    endpoint = req.endpoint
    if endpoint in SESSIONLESS_ENDPOINTS:
        return  # the same bytes for everyone: no session read, so no `Vary: Cookie` splitting the HTTP cache
    slide_session_expiry()
    if endpoint is None or not req.path.startswith("/api/"):
        return
    if endpoint not in PUBLIC_ENDPOINTS and not caller().is_authenticated:
        raise Unauthorized()
    if req.method in UNSAFE_METHODS and endpoint not in CSRF_EXEMPT_ENDPOINTS:
        sent = req.headers.get("X-CSRF-Token", "")
        expected = session.get("csrf_token", "")
        if not (expected and hmac.compare_digest(sent.encode(), expected.encode())):
            raise Forbidden(description="Missing or wrong X-CSRF-Token header; reload the page and try again.")
    if req.content_length and not req.is_json:  # it would be read as no fields at all: a silent no-op
        raise UnsupportedMediaType()


def init_app(app) -> None:
    app.before_request(guard_api_request)
    caller_cache.init_app(app)

"""Rate limits on the doors to accounts: log in, sign up, accept an invitation, change a password.

Each is limited per client IP and per account (the email, the invitation, the person), with limits
from configuration (PLATE_RATELIMIT_*). Flask-Limiter counts, in memory or in Redis; one Limiter per
app, so every app (and every test) has its own counters. A breach answers 429 with Retry-After in the
API's error shape.
"""
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

from webapp.services.people import normalize_email


def _json_field(name: str) -> str:
    body = request.get_json(silent=True)
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _digest(value: str) -> str:
    """Keys name accounts by a hash, so neither emails nor tokens are written to the counters' store."""
    return hashlib.sha256(value.encode(errors="surrogatepass")).hexdigest()[:32]  # JSON may hold lone surrogates


def login_email() -> str:
    return "email:" + _digest(normalize_email(_json_field("email")))


def signup_email() -> str:
    body = request.get_json(silent=True)
    admin = body.get("admin") if isinstance(body, dict) else None
    email = admin.get("email") if isinstance(admin, dict) else None
    return "email:" + _digest(normalize_email(email if isinstance(email, str) else ""))


def invitation_token() -> str:
    return "invitation:" + _digest((request.view_args or {}).get("token", ""))


def current_person() -> str:
    return f"user:{current_user.get_id()}"


def changes_no_password() -> bool:
    """PATCH /me without a new password (a name or time zone change) is not limited."""
    body = request.get_json(silent=True)
    return not (isinstance(body, dict) and "password" in body)


def failed(response) -> bool:
    return response.status_code >= 400


@dataclass(frozen=True)
class Door:
    """One limited endpoint: its per-IP limit, its per-account limit and how the account is named."""

    endpoint: str
    ip_limit: str  # config keys
    account_limit: str
    account: Callable[[], str]
    # Per account, count only failed attempts: someone who keeps logging in successfully is not throttled.
    count_account_when: Callable | None = None
    exempt_when: Callable[[], bool] | None = None


DOORS = (
    Door("accounts.log_in", "PLATE_RATELIMIT_LOGIN", "PLATE_RATELIMIT_LOGIN_ACCOUNT", login_email, failed),
    Door("accounts.create_organization", "PLATE_RATELIMIT_SIGNUP", "PLATE_RATELIMIT_SIGNUP_ACCOUNT", signup_email),
    Door("invitations.accept_invitation", "PLATE_RATELIMIT_ACCEPT", "PLATE_RATELIMIT_ACCEPT_ACCOUNT",
         invitation_token, failed),
    Door("accounts.update_me", "PLATE_RATELIMIT_PASSWORD", "PLATE_RATELIMIT_PASSWORD_ACCOUNT", current_person,
         exempt_when=changes_no_password),
)


def _check_for(limiter: Limiter, door: Door) -> Callable[[], None]:
    """A function that counts this request against the door's limits (RateLimitExceeded when over)."""

    def check() -> None:
        """Flask-Limiter's decorators below do the counting."""

    check.__name__ = check.__qualname__ = "check_" + door.endpoint.replace(".", "_")
    per_account = limiter.limit(lambda: current_app.config[door.account_limit], key_func=door.account,
                                scope="account", deduct_when=door.count_account_when, exempt_when=door.exempt_when)
    per_ip = limiter.limit(lambda: current_app.config[door.ip_limit], key_func=get_remote_address,
                           scope="ip", exempt_when=door.exempt_when)
    return per_ip(per_account(check))


def _retry_after(limiter: Limiter) -> int:
    """Seconds until the breached limit lets a request through again."""
    breached = limiter.current_limit
    if not breached:
        return 60
    # The window's own reset time, not RequestLimit.reset_at, which adds a second and could say 61 of a minute.
    seconds = math.ceil(breached.window.reset_time - time.time())
    return min(max(1, seconds), breached.limit.get_expiry())


def init_app(app: Flask) -> None:
    """Count requests to the doors after the guard has run (so the caller is known)."""
    if not app.config["PLATE_RATELIMIT_ENABLED"]:
        return
    app.config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=app.config["PLATE_RATELIMIT_STORAGE_URI"],
        RATELIMIT_KEY_PREFIX=app.config["PLATE_RATELIMIT_KEY_PREFIX"],
        RATELIMIT_STRATEGY="moving-window",  # no double burst across a window's edge
    )
    limiter = Limiter(key_func=get_remote_address)
    limiter.init_app(app)
    # Plate has no app-wide limits: the doors below check their own. The extension's check of every
    # other request would only look for limits and find none (7% of a plate read), so it is left out.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions["plate_limiter"] = limiter
    checks = {door.endpoint: _check_for(limiter, door) for door in DOORS}

    def limit_doors() -> None:
        check = checks.get(request.endpoint or "")
        if check is None:
            return
        try:
            check()
        except RateLimitExceeded:
            seconds = _retry_after(limiter)
            raise TooManyRequests(f"Too many attempts; try again in {seconds} seconds.", retry_after=seconds) from None

    app.before_request(limit_doors)

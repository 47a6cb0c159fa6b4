"""Passwords: the rule for sign-up, invitation-accept and password change (long, not the email, not common),
and their hashes (werkzeug's scrypt; PLATE_PASSWORD_HASH names another werkzeug method, for tests only)."""
from functools import cache
from pathlib import Path

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.services.errors import Invalid

MIN_LENGTH = 10
COMMON_PASSWORDS = Path(__file__).parent.parent / "data" / "common-passwords.txt"
RULE = f"Use at least {MIN_LENGTH} characters, not your email address and not a commonly used password."


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lowercased (it holds only passwords long enough to pass the length check)."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("# "))


def check_password(password: str, email: str, field: str = "password") -> str:
    """Return the password, or raise Invalid on `field` with a sentence saying what to change."""
    if len(password) < MIN_LENGTH:
        raise Invalid(field, f"Use at least {MIN_LENGTH} characters.")
    folded = password.strip().casefold()
    address = email.strip().casefold()
    local_part = address.partition("@")[0]
    if folded in (address, local_part):
        raise Invalid(field, "Do not use your email address (or its part before the @) as your password.")
    if folded in common_passwords():
        raise Invalid(field, "This password is one of the most commonly used ones, so it is guessed first. "
                             "Choose another, e.g. a few unrelated words.")
    return password


def _method() -> str:
    return current_app.config["PLATE_PASSWORD_HASH"] if has_app_context() else "scrypt"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_method())


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-real-password", method=method)


def password_matches(password_hash: str | None, password: str) -> bool:
    """With no hash (an unknown email) a dummy one is checked: that answer takes as long as a wrong password."""
    if password_hash is None:
        check_password_hash(_dummy_hash(_method()), password)
        return False
    return check_password_hash(password_hash, password)

"""The password rule for sign-up, invitation-accept and password change: long, not the email, not common."""
from functools import cache
from pathlib import Path

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

"""Domain errors raised by services; the API maps each to one HTTP status in one handler."""
from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.extra = extra


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Gone(DomainError):
    status = 410


class PreconditionFailed(DomainError):
    """The item changed since the client read it; `extra["current"]` holds the item now."""

    status = 412


class PreconditionRequired(DomainError):
    status = 428


class Invalid(DomainError):
    """Input that is well-formed but not acceptable; `errors` names the fields."""

    status = 422

    def __init__(self, field: str, message: str, location: str = "json"):
        super().__init__(message, errors={location: {field: [message]}})

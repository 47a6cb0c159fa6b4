"""`Idempotency-Key` for creates and moves: a replayed request answers as the first did and does nothing again.

Like invitation tokens, keys are never stored: a row holds the SHA-256 of its key and is looked up
by that hash, so the database compares hashes (how long that takes tells nothing about a key,
whose hash nobody can choose) and a leaked database holds no key.
"""
import hashlib
import hmac
import json
from datetime import timedelta
from functools import wraps

from flask import Response, request
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webapp.clock import now
from webapp.extensions import db
from webapp.models import IdempotentRequest
from webapp.services.errors import Invalid

KEEP_FOR = timedelta(hours=24)
# The header as the OpenAPI document describes it (`@blp.headers(IDEMPOTENCY_KEY)`).
IDEMPOTENCY_KEY = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "description": "Any unique string, such as a UUID: a retry with the same key and body answers as the first "
                   "successful request did and does nothing again; the same key with another body is 422. "
                   "Kept for 24 hours per person; failed requests are not kept.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")


def key_hash(key: str) -> str:
    """What is stored of an Idempotency-Key, and looked up (as webapp/services/people.py does with tokens)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _fingerprint() -> str:
    body = request.get_json(silent=True)
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotentRequest, fingerprint: str) -> Response:
    if not hmac.compare_digest(record.fingerprint, fingerprint):
        raise Invalid("Idempotency-Key", "This Idempotency-Key was already used for a different request.", "headers")
    response = Response(record.body, status=record.status_code, headers=record.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _remembered(hashed: str) -> IdempotentRequest | None:
    return db.session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.user_id == current_user.id,
            IdempotentRequest.key_hash == hashed,
            IdempotentRequest.created_at > now() - KEEP_FOR,
        )
    )


def idempotent(view):
    """Run a create (or move) view and remember its response under the key, in one transaction it commits.

    The key row is inserted before the view runs: a concurrent repeat blocks on its unique
    index until this transaction ends, then finds the committed response and replays it.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            response = view(*args, **kwargs)
            db.session.commit()
            return response
        if not 1 <= len(key) <= 255:
            raise Invalid("Idempotency-Key", "Use a key of 1 to 255 characters, such as a UUID.", "headers")
        hashed = key_hash(key)
        fingerprint = _fingerprint()
        if (record := _remembered(hashed)) is not None:
            return _replay(record, fingerprint)
        # Only an expired record may go: a fresh one committed since the look-up above is a
        # concurrent repeat's, and the unique index must make this request replay it.
        db.session.execute(
            delete(IdempotentRequest).where(
                IdempotentRequest.user_id == current_user.id,
                IdempotentRequest.key_hash == hashed,
                IdempotentRequest.created_at <= now() - KEEP_FOR,
            )
        )
        record = IdempotentRequest(user_id=current_user.id, key_hash=hashed, fingerprint=fingerprint)
        db.session.add(record)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            if (record := _remembered(hashed)) is not None:
                return _replay(record, fingerprint)
            raise
        response = view(*args, **kwargs)
        record.status_code = response.status_code
        record.body = response.get_data(as_text=True)
        record.headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
        db.session.commit()
        return response

    return wrapper

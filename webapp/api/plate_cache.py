"""Rendered plates, cached per worker under the owner's plate_version.

A plate is read far more often than it changes. Every change to it bumps
`User.plate_version` in the same transaction, and "overdue" depends on the owner's
local date, so (owner, version, local date, query) names one exact rendering; the
cache never needs invalidating, and old versions simply age out of the LRU.
"""
import hashlib
from threading import Lock

from cachetools import LRUCache
from flask import current_app

from webapp.clock import local_today
from webapp.services.items import PlateAccess


def _store() -> tuple[LRUCache, Lock]:
    """The app's own cache (a fresh app, e.g. on a restored database, starts empty)."""
    extensions = current_app.extensions
    store = extensions.get("plate_cache")
    if store is None:  # the first read; setdefault keeps a concurrent first read's cache if it won
        store = extensions.setdefault("plate_cache", (LRUCache(maxsize=2048), Lock()))
    return store


def plate_key(access: PlateAccess, query: dict) -> tuple:
    return (access.owner_id, access.plate_version, local_today(access.time_zone).isoformat(),
            query["status"], query["limit"], query.get("cursor"))


def etag_for(key: tuple) -> str:
    return hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()


def rendered_plate(key: tuple, render) -> bytes:
    """The JSON bytes for `key`, rendering them with `render()` on a miss."""
    renderings, lock = _store()
    with lock:
        body = renderings.get(key)
    if body is None:
        body = current_app.json.dumps(render()).encode() + b"\n"
        with lock:
            renderings[key] = body
    return body

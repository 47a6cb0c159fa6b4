"""On PostgreSQL, each worker remembers the callers it has read, and LISTEN/NOTIFY tells it when one changes.

Every request asks who is calling (auth/caller.py). On PostgreSQL that one small query is most of
the cost of a cached plate read: a round trip, the server's own work, and a switch to its process
and back. So a worker remembers the caller rows it read, and forgets a row when the database says
it changed: a trigger on `users` (models/people.py) notifies USERS_CHANNEL with the id of every row
whose caller fields change, in the same transaction, and a thread in each worker LISTENs.

How current a remembered row is:
- A notification arrives within milliseconds, but nothing bounds that by itself. So the listener
  also sends a query every SYNC_SECONDS: before it answers, the server hands over every notification
  of a transaction that committed before the query was sent. That query notifies the channel itself,
  and only if its own notification comes back with the answer is the listener known to be heard (a
  transaction-pooling proxy such as PgBouncer's would lose it). A row is used only while the last such
  barrier began less than TRUST_SECONDS ago; when the listener loses its connection, all rows are
  forgotten and callers are read from the database until it is back.
- Someone else's change (an item a manager put on your plate, an admin's demotion, a password
  changed on another device, which logs this one out) reaches a read at most TRUST_SECONDS late.
- A person's own change must show on their next read, whichever worker serves it. After every
  successful unsafe request the session says so (`FRESH_KEY`) for OWN_WRITES_SECONDS, more than
  TRUST_SECONDS and any sane clock skew between servers, and meanwhile its callers are read afresh.
- Only safe requests (GET, HEAD) use remembered rows: a write always checks its caller against the
  database, in its own transaction.
SQLite has no LISTEN, and there the query costs about what a lookup in memory does: it is always read.
"""
import logging
import math
import os
import threading
import time
import weakref

from cachetools import LRUCache
from flask import Flask, current_app, request, session
from sqlalchemy import Engine, event

from webapp.auth import UNSAFE_METHODS
from webapp.lean import PerProcess, detached_connection
from webapp.models.people import USERS_CHANNEL

SYNC_SECONDS = 0.5
TRUST_SECONDS = 1.5
OWN_WRITES_SECONDS = 5
RECONNECT_SECONDS = 2.0
MAX_ROWS = 8192
SYNC_PAYLOAD = "sync"  # the barrier's own notification; every other payload is a person's id
BARRIER = f"SELECT pg_notify('{USERS_CHANNEL}', '{SYNC_PAYLOAD}')"
FRESH_KEY = "fresh_until"  # in the session: until this Unix time, read this session's caller afresh
SAFE_METHODS = {"GET", "HEAD"}

log = logging.getLogger(__name__)


class NotHeard(Exception):
    """The listener's connection does not hear the channel."""


class CallerCache:
    """Caller rows by user id, trusted only while this worker's listener is in step with the database."""

    def __init__(self, engine: Engine):
        self._engine = weakref.ref(engine)
        self._rows: LRUCache = LRUCache(maxsize=MAX_ROWS)
        self._lock = threading.Lock()
        self._version = 0  # bumped by every forgetting: a row read before it is not stored
        self._synced: float | None = None  # time.monotonic() when the last barrier began; None: not listening
        self._stopped = threading.Event()
        self._connection = None
        self.pid = os.getpid()
        self._thread = threading.Thread(target=self._listen, name="plate-caller-cache", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        synced = self._synced
        return synced is not None and time.monotonic() - synced <= TRUST_SECONDS

    def version(self) -> int:
        """Take this before reading a row from the database, and hand it to `put` with the row."""
        return self._version

    def get(self, user_id: int) -> tuple | None:
        if not self.listening:
            return None
        with self._lock:
            return self._rows.get(user_id)

    def put(self, user_id: int, row: tuple, version: int) -> None:
        """Remember a row, unless some change was heard since `version` was taken (the row may predate it)."""
        with self._lock:
            if version == self._version and self._synced is not None:
                self._rows[user_id] = row

    def forget(self, user_id: int | None = None) -> None:
        """Forget one row (None: every row)."""
        with self._lock:
            self._version += 1
            if user_id is None:
                self._rows.clear()
            else:
                self._rows.pop(user_id, None)

    def _heard(self, notify, own_pid: int) -> bool:
        """Forget whom the notification names; True if it was this listener's own barrier coming back."""
        payload = notify.payload
        if payload == SYNC_PAYLOAD:
            return notify.pid == own_pid
        self.forget(int(payload) if payload.isdigit() else None)  # anything unexpected: forget everything
        return False

    def stop(self, wait: bool = True) -> None:
        self._stopped.set()
        if wait and self._thread is not threading.current_thread():
            self._thread.join(timeout=SYNC_SECONDS * 4)

    def _listen(self) -> None:
        lost = False  # said so once; quiet while reconnecting
        while not self._stopped.is_set():
            engine = self._engine()
            if engine is None:
                return
            connection = None
            try:
                connection = self._connection = detached_connection(engine)  # kept for a forked child: see PerProcess
                engine = None  # the engine may go away while this thread waits
                connection.execute(f"LISTEN {USERS_CHANNEL}")
                self.forget()  # rows read while nobody listened may have missed their notification
                if lost:
                    log.info("caller cache: listening again")
                    lost = False
                own_pid = connection.info.backend_pid
                while not self._stopped.is_set():
                    began = time.monotonic()
                    connection.execute(BARRIER)  # notifications sent before it arrive before its answer
                    came_back = False
                    for notify in connection.notifies(timeout=0):
                        came_back |= self._heard(notify, own_pid)
                    if not came_back:
                        raise NotHeard("the listener's own notification did not come back "
                                       "(a transaction-pooling proxy in between?)")
                    self._synced = began
                    for notify in connection.notifies(timeout=SYNC_SECONDS):
                        self._heard(notify, own_pid)
            except Exception as error:  # noqa: BLE001 - any failure: stop trusting, read from the database, retry
                if not (self._stopped.is_set() or lost):
                    log.warning("caller cache: not listening (%s); reading callers from the database",
                                error if isinstance(error, NotHeard) else type(error).__name__)
                    lost = True
            finally:
                engine = None
                self._synced = None
                self.forget()
                if connection is not None:
                    try:
                        connection.close()
                    except Exception:  # noqa: BLE001 - a broken connection has nothing left to give back
                        pass
            self._stopped.wait(RECONNECT_SECONDS)


def _new_cache(engine: Engine) -> CallerCache:
    cache = CallerCache(engine)
    event.listen(engine, "engine_disposed", lambda _engine: cache.stop())
    return cache


# The engine's cache in this process: a forked worker starts its own, with its own listener.
cache_for = PerProcess(_new_cache)


def usable(engine: Engine) -> CallerCache | None:
    """The cache this request may read its caller from, or None: read it from the database."""
    if not current_app.config["PLATE_CALLER_CACHE"] or request.method not in SAFE_METHODS:
        return None
    if session.get(FRESH_KEY, 0) > time.time():
        return None
    return cache_for(engine)


def mark_own_write(response):
    """After a successful unsafe request, this session reads its caller afresh for a while (see above)."""
    if request.method in UNSAFE_METHODS and response.status_code < 400 and session.get("_user_id"):
        session[FRESH_KEY] = math.ceil(time.time() + OWN_WRITES_SECONDS)
    return response


def init_app(app: Flask) -> None:
    """PLATE_CALLER_CACHE turns it on where the database can notify (PostgreSQL); never on SQLite."""
    app.config["PLATE_CALLER_CACHE"] = bool(app.config["PLATE_CALLER_CACHE"]) \
        and app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    if app.config["PLATE_CALLER_CACHE"]:
        app.after_request(mark_own_write)

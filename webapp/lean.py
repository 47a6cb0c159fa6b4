"""Lean reads: a SELECT compiled once by SQLAlchemy, then run straight on a pooled DBAPI cursor.

Every request asks who is calling, and a cached plate read asks nothing else. Through a Session or
even a Core Connection that one small query costs several times what the database spends on it (a
Session, a transaction, a cache key for the statement, a result object), and under a loaded server
that overhead dominates the request. A LeanQuery keeps SQLAlchemy for what it is good at, writing
portable SQL from the models, and skips the machinery: rows come back as plain DBAPI tuples, so
select only columns the driver returns as they are (numbers, text, booleans), never dates.
Use it only outside a request's ORM transaction, for reads that need no snapshot shared with it.

A few connections per engine serve these reads, outside SQLAlchemy's pool and in autocommit, so a read
is one round trip with no checkout events or reset; on PostgreSQL each keeps one cursor for all its
reads. When the server drops a connection, all idle ones are retired with it and the read is tried
once more on a new one; disposing the engine retires them all.
"""
import os
import weakref
from copy import deepcopy
from threading import Lock

from sqlalchemy import Engine, event
from sqlalchemy.sql import Select

IDLE_CONNECTIONS = 8  # kept open per engine; more are made under load and closed when given back


class _Held:
    """One lean connection, and on PostgreSQL the cursor it keeps for its reads.

    A new psycopg cursor costs about as much CPU as the read itself. SQLite's cost next to nothing,
    and one closed after each read never holds a snapshot (which would pin the write-ahead log).
    """

    __slots__ = ("connection", "cursor")

    def __init__(self, connection, keep_cursor: bool):
        self.connection = connection
        self.cursor = connection.cursor() if keep_cursor else None


class _Connections:
    """The lean reads' own connections to one engine (LIFO, so a quiet server keeps one warm)."""

    def __init__(self, engine: Engine):
        self.engine = weakref.ref(engine)
        self.idle: list = []
        self.generation = 0
        self.pid = os.getpid()
        self.lock = Lock()

    def take(self) -> tuple:
        with self.lock:
            if self.idle:
                return self.idle.pop(), self.generation
            generation = self.generation
        engine = self.engine()
        return _Held(detached_connection(engine), keep_cursor=engine.dialect.name == "postgresql"), generation

    def give_back(self, held: _Held, generation: int) -> None:
        with self.lock:
            if generation == self.generation and len(self.idle) < IDLE_CONNECTIONS:
                self.idle.append(held)
                return
        _close(held.connection)

    def retire_all(self, _engine=None) -> None:
        with self.lock:
            self.generation += 1
            idle, self.idle = self.idle, []
        for held in idle:
            _close(held.connection)


def detached_connection(engine: Engine):
    """A new DBAPI connection made as the engine makes its own, but outside its pool; on PostgreSQL in autocommit."""
    pooled = engine.raw_connection()
    connection = pooled.dbapi_connection
    pooled.detach()  # ours now: no longer counted by, or returned to, SQLAlchemy's pool
    if engine.dialect.name == "postgresql":  # no transaction stays open between reads
        connection.rollback()  # (the pool's liveness ping may have begun one)
        connection.autocommit = True
    return connection


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection has nothing left to give back
        pass


class PerProcess:
    """One object per engine in each process, made by `make(engine)` on first use.

    A forked child makes its own and keeps its parent's, never using, closing or collecting them:
    closing a connection the parent still uses would close it for the parent too (same socket).
    The objects carry the `pid` of the process that made them.
    """

    def __init__(self, make):
        self._make = make
        self._objects: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = Lock()
        self._inherited: list = []

    def __call__(self, engine: Engine):
        made = self._objects.get(engine)
        if made is not None and made.pid == os.getpid():
            return made
        with self._lock:
            made = self._objects.get(engine)
            if made is None or made.pid != os.getpid():
                if made is not None:
                    self._inherited.append(made)
                made = self._objects[engine] = self._make(engine)
        return made


def _new_connections(engine: Engine) -> _Connections:
    connections = _Connections(engine)
    event.listen(engine, "engine_disposed", connections.retire_all)
    return connections


_connections = PerProcess(_new_connections)  # engine -> the lean connections of this process


class LeanQuery:
    def __init__(self, statement: Select):
        self._statement = statement
        self._compiled: dict[object, tuple[str, tuple[str, ...] | None]] = {}
        self._lock = Lock()

    def _sql_for(self, engine: Engine) -> tuple[str, tuple[str, ...] | None]:
        """The SQL text for this engine's dialect, and the order of its parameters when they are positional."""
        compiled = self._compiled.get(engine.dialect)
        if compiled is None:
            statement = self._statement.compile(dialect=engine.dialect)
            order = tuple(statement.positiontup) if statement.positional else None
            compiled = (str(statement), order)
            with self._lock:
                self._compiled[engine.dialect] = compiled
        return compiled

    def first(self, engine: Engine, **params) -> tuple | None:
        """The first row for these bound parameters, or None."""
        sql, order = self._sql_for(engine)
        arguments = tuple(params[name] for name in order) if order is not None else params
        dbapi = engine.dialect.loaded_dbapi
        connections = _connections(engine)
        for attempt in (1, 2):
            held, generation = connections.take()
            cursor = held.cursor or held.connection.cursor()
            try:
                try:
                    cursor.execute(sql, arguments)
                    row = cursor.fetchone()
                finally:
                    if cursor is not held.cursor:
                        cursor.close()
            except (dbapi.OperationalError, dbapi.InterfaceError):
                # The server cut it (a restart, a failover): it cut the idle ones too, so read again on a new one.
                _close(held.connection)
                connections.retire_all()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                _close(held.connection)
                raise
            connections.give_back(held, generation)
            return row


_SCALARS = (str, int, float, bool, type(None))


def plain_copy(data: dict) -> dict:
    """A copy of a remembered result that a request may change freely: shallow when every value is a scalar."""
    if all(type(value) in _SCALARS for value in data.values()):
        return dict(data)
    return deepcopy(data)

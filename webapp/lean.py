"""Lean reads: a SELECT compiled once by SQLAlchemy, then run straight on a pooled DBAPI cursor.

Every request asks who is calling, and a cached plate read asks nothing else. Through a Session or
even a Core Connection that one small query costs several times what the database spends on it (a
Session, a transaction, a cache key for the statement, a result object), and under a loaded server
that overhead dominates the request. A LeanQuery keeps SQLAlchemy for what it is good at, writing
portable SQL from the models, and skips the machinery: rows come back as plain DBAPI tuples, so
select only columns the driver returns as they are (numbers, text, booleans), never dates.
Use it only outside a request's ORM transaction, for reads that need no snapshot shared with it.
"""
from threading import Lock

from sqlalchemy import Engine
from sqlalchemy.sql import Select


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
        connection = engine.raw_connection()  # from the pool; closing it gives it back
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, arguments)
                return cursor.fetchone()
            finally:
                cursor.close()
        finally:
            connection.close()

"""Writing a batch of rows in one statement: the dispatcher records hundreds of digests per pass.

On PostgreSQL an executemany still costs the server a statement per row (bind, execute, a portal
each) and the client a round of per-row parameter work; here a batch travels instead as one array
per column, which the server unnests and writes in a single statement (one plan, one executor run).
On SQLite, in process and without a protocol, the plain executemany is the fast path, so it stays.
"""
import json

from sqlalchemy import JSON, Column, Table, any_, bindparam, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Text


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _unnested(table: Table, rows: list[dict], names: list[str]):
    """The rows as a FROM clause, unnest(array per column) AS (names), and its columns typed as the table's."""
    arrays = []
    for name in names:
        column_type = table.c[name].type
        values = [row[name] for row in rows]
        if isinstance(column_type, JSON):  # as text, cast back in SQL: an array of json is no simpler to send
            values, column_type = [None if value is None else json.dumps(value) for value in values], Text()
        arrays.append(bindparam(f"{name}_values", values, type_=ARRAY(column_type)))
    source = func.unnest(*arrays).table_valued(*names).render_derived()
    columns = [cast(source.c[name], table.c[name].type) if isinstance(table.c[name].type, JSON) else source.c[name]
               for name in names]
    return source, columns


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """INSERT `rows` (dicts with the same keys, the table's column names) into `table`."""
    if not rows:
        return
    if not _on_postgresql(session):
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    _, columns = _unnested(table, rows, names)
    session.execute(insert(table).from_select(names, select(*columns)))


def update_rows(session: Session, table: Table, key: str, rows: list[dict]) -> None:
    """UPDATE `table` row by row: each dict names the row by `key` and gives the new values of its other keys."""
    if not rows:
        return
    names = list(rows[0])
    values = [name for name in names if name != key]
    if not _on_postgresql(session):
        session.execute(update(table).where(table.c[key] == bindparam(f"{key}_key"))
                        .values({name: bindparam(f"{name}_new") for name in values}),
                        [{f"{key}_key": row[key], **{f"{name}_new": row[name] for name in values}} for row in rows])
        return
    _, columns = _unnested(table, rows, names)  # the UPDATE takes its FROM from the columns
    by_name = dict(zip(names, columns, strict=True))
    session.execute(update(table).where(table.c[key] == by_name[key]).values({name: by_name[name] for name in values}))


def in_ids(session: Session, column: Column, ids: list[int]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL as `= ANY(array)`, one parameter however many ids (one plan, no rendering per id)."""
    if _on_postgresql(session):
        return column == any_(bindparam(f"{column.name}_ids", list(ids), type_=ARRAY(column.type)))
    return column.in_(ids)

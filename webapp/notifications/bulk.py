"""Writing a batch of rows in one statement: the dispatcher records hundreds of digests per pass.

On PostgreSQL an executemany still costs the server a statement per row (bind, execute, a portal
each) and the client a round of per-row parameter work. Here a batch travels instead as one JSON
document (orjson, in C), which the server turns back into typed rows with json_to_recordset and
writes in a single statement: one parameter, one plan, one executor run. (Arrays per column were
tried first: psycopg escapes every string element of an array in Python, the JSON payloads above all.)
On SQLite, in process and without a protocol, the plain executemany is the fast path, so it stays.
"""
import orjson
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Text


def on_postgresql(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (else SQLite, the only other one Plate runs on)."""
    return session.get_bind().dialect.name == "postgresql"


def _recordset(session: Session, table: Table, rows: list[dict], names: list[str]) -> dict[str, ColumnElement]:
    """The rows as json_to_recordset(document) AS (name type, ...): its columns by name, typed as the table's."""
    dialect = session.get_bind().dialect  # for the TypeDecorators' bind step
    converters = {name: _once_per_value(table.c[name].type, dialect) for name in names
                  if isinstance(table.c[name].type, TypeDecorator)}
    if converters:  # e.g. UTCDateTime: the value the column stores (naive UTC), as its own bind step would make it
        rows = [{**row, **{name: convert(row[name]) for name, convert in converters.items()}} for row in rows]
    document = bindparam("rows", orjson.dumps(rows).decode(), type_=Text, unique=True)
    source = (func.json_to_recordset(cast(document, JSON))
              .table_valued(*[column(name, table.c[name].type) for name in names]).render_derived(with_types=True))
    return {name: source.c[name] for name in names}


def _once_per_value(kind: TypeDecorator, dialect):
    """kind's bind step, run once per distinct value: a batch's rows mostly share one instant (the pass's)."""
    done: dict = {}

    def convert(value):
        try:
            return done[value]
        except KeyError:
            done[value] = converted = kind.process_bind_param(value, dialect)
            return converted
        except TypeError:  # an unhashable value (say, a list for a JSON-based type)
            return kind.process_bind_param(value, dialect)
    return convert


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """INSERT `rows` (dicts with the same keys, the table's column names) into `table`."""
    if not rows:
        return
    if not on_postgresql(session):
        session.execute(insert(table), rows)
        return
    session.execute(insert_from_rows(session, table, rows))


def insert_from_rows(session: Session, table: Table, rows: list[dict]) -> Insert:
    """PostgreSQL: the INSERT of `rows` as one statement, to run, or to put in a WITH (`.cte()`) of another."""
    names = list(rows[0])
    columns = _recordset(session, table, rows, names)
    return insert(table).from_select(names, select(*columns.values()))


def update_rows(session: Session, table: Table, key: str, rows: list[dict]) -> None:
    """UPDATE `table` row by row: each dict names the row by `key` and gives the new values of its other keys."""
    if not rows:
        return
    names = list(rows[0])
    values = [name for name in names if name != key]
    if not on_postgresql(session):
        session.execute(update(table).where(table.c[key] == bindparam(f"{key}_key"))
                        .values({name: bindparam(f"{name}_new") for name in values}),
                        [{f"{key}_key": row[key], **{f"{name}_new": row[name] for name in values}} for row in rows])
        return
    columns = _recordset(session, table, rows, names)  # the UPDATE takes its FROM from these columns
    session.execute(update(table).where(table.c[key] == columns[key]).values({name: columns[name] for name in values}))


def in_ids(session: Session, column_: Column, ids) -> ColumnElement[bool]:
    """`column IN ids`. On PostgreSQL as `= ANY(array)`: one parameter however many ids, so the statement's
    text stays the same (psycopg converts and prepares it once) and the server plans it once. The array
    goes as its text form, '{1,2,3}', which costs a join where psycopg's list dumper costs a call per id."""
    ids = [int(value) for value in ids]
    if on_postgresql(session):
        return column_ == any_(int_array(f"{column_.name}_ids", ids))
    return column_.in_(ids)


def int_array(name: str, ids: list[int]) -> ColumnElement:
    """PostgreSQL: an integer[] parameter, sent as its text form ('{1,2,3}')."""
    return cast(bindparam(name, "{" + ",".join(map(str, ids)) + "}", type_=Text, unique=True), ARRAY(Integer))

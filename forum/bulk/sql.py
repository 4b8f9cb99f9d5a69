"""Set-based SQL helpers for bulk work: id blocks, COPY on PostgreSQL, batched updates."""

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from sqlalchemy import JSON, Integer, Table, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

IN_CHUNK = 5_000  # bound parameters per IN list (SQLite allows 32,766 per statement)

log = logging.getLogger(__name__)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def allocate_ids(session: Session, table: Table, column: str, count: int) -> list[int]:
    """``count`` new primary keys for ``table``, taken in one query.

    Knowing ids before inserting lets one pass write rows that point at each other
    (a topic's main_pid, a reply's tid) without INSERT ... RETURNING round trips.
    On SQLite the transaction already holds the write lock (BEGIN IMMEDIATE), so the
    largest id ever given (``sqlite_sequence``: AUTOINCREMENT, ids never reused) + 1 is
    safe; on PostgreSQL the ids come from the column's sequence."""
    if count <= 0:
        return []
    if is_postgres(session):
        # One array value, not one result row per id; the sequence named as a constant
        # (pg_get_serial_sequence per row made 10,000 ids cost ~50 ms instead of ~4).
        query = text(
            f"SELECT array_agg(nextval('{_sequence(session, table, column)}'::regclass)) "
            "FROM generate_series(1, :n)"
        )
        return list(session.scalar(query, {"n": count}))
    given = text("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = :t")
    top = session.scalar(given, {"t": table.name}) or 0
    return list(range(top + 1, top + 1 + count))


_SEQUENCES: dict[tuple[str, str], str] = {}


def _sequence(session: Session, table: Table, column: str) -> str:
    """The (quoted, schema-qualified) name of ``table.column``'s sequence, asked once:
    migrations give it the same name in every database."""
    key = (table.name, column)
    if key not in _SEQUENCES:
        name = session.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                              {"t": table.name, "c": column})  # fmt: skip
        _SEQUENCES[key] = name.replace("'", "''")
    return _SEQUENCES[key]


def int_array(values: Iterable[int | None]) -> str:
    """A PostgreSQL array literal of integers (``{1,2,NULL}``): built by orjson in one
    call, where psycopg dumps a list parameter value by value in Python."""
    return "{" + orjson.dumps(list(values))[1:-1].decode() + "}"


_BIGINT = range(-(2**63), 2**63)


def lookup(session: Session, key, value, wanted: Iterable[Any]) -> dict[Any, Any]:  # type: ignore[no-untyped-def]
    """``{key: value}`` for the rows whose ``key`` is in ``wanted``, in bounded IN lists."""
    values = list({w for w in wanted if w is not None})
    if isinstance(key.type, Integer):  # an id out of bigint's range exists nowhere
        values = [v for v in values if v in _BIGINT]
    if not values:
        return {}
    if is_postgres(session):
        return _lookup_pg(session, key, value, values)
    found: dict[Any, Any] = {}
    for start in range(0, len(values), IN_CHUNK):
        part = values[start : start + IN_CHUNK]
        found.update((k, v) for k, v in session.execute(select(key, value).where(key.in_(part))))
    return found


def _lookup_pg(session: Session, key, value, values: list[Any]) -> dict[Any, Any]:  # type: ignore[no-untyped-def]
    """One statement on the driver's connection, the wanted keys in one array value:
    thousands of IN parameters cost more to build and parse than the index lookups, and
    SQLAlchemy's statement and result handling more than the rows (``insert_rows``
    uses the same connection, so the same transaction)."""
    if isinstance(key.type, Integer):
        wanted = int_array(values)
        array = "CAST(%s AS bigint[])"
    else:
        wanted = orjson.dumps(values).decode()
        array = "ARRAY(SELECT json_array_elements_text(CAST(%s AS json)))"
    query = (f'SELECT "{key.name}", "{value.name}" FROM "{key.table.name}" '
             f'WHERE "{key.name}" = ANY({array})')  # fmt: skip
    with driver_cursor(session, query) as cursor:
        return dict(cursor.execute(query, (wanted,)).fetchall())


@contextmanager
def driver_cursor(session: Session, statement: str) -> Iterator[psycopg.Cursor[Any]]:
    """A cursor on the session's own psycopg connection (same transaction), for what
    SQLAlchemy would slow down (COPY, large array parameters). Its errors are raised as
    SQLAlchemy's, as for any other statement: callers retry an ``OperationalError`` (the
    connection dropped) and an ``IntegrityError`` (an external id taken by concurrent
    work) the same way whichever path sent the statement."""
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            yield cursor
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _pg_type(column_type: TypeEngine[Any]) -> str:
    """The PostgreSQL type name of a column type, without its length (``varchar``)."""
    return column_type.compile(dialect=postgresql.dialect()).split("(")[0].lower()


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys, every NOT NULL column given)."""
    if not rows:
        return
    columns = list(rows[0])
    if not is_postgres(session):
        session.execute(insert(table), list(rows))
        return
    # One C-level itemgetter per row picks the values in column order.
    values = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    copy_rows(session, table, columns, [values(row) for row in rows])


def copy_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows``, each a sequence of values in ``columns`` order (every NOT NULL
    column given).

    PostgreSQL gets COPY on the session's own connection (same transaction); other
    databases a multi-row executemany."""
    if not rows:
        return
    if not is_postgres(session):
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    names = ", ".join(f'"{c}"' for c in columns)
    # Only JSON columns need converting: every other value goes to psycopg as it is.
    as_json = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    # Binary COPY where no JSON column needs its text: formatting a row costs the
    # client less than half as much as in text format (typed by the columns' types).
    binary = " (FORMAT BINARY)" if not as_json else ""
    statement = f'COPY "{table.name}" ({names}) FROM STDIN{binary}'
    with driver_cursor(session, statement) as cursor, cursor.copy(statement) as copy:
        if not as_json:
            copy.set_types([_pg_type(table.c[c].type) for c in columns])
            write = copy.write_row
            for row in rows:
                write(row)
            return
        for row in rows:
            record = list(row)
            for i in as_json:
                record[i] = _json_text(record[i])
            copy.write_row(record)


# -- foreign keys, checked once per chunk --------------------------------------------
#
# PostgreSQL checks a foreign key with a trigger per inserted row: a query and a row
# lock on the parent for each one. On COPY that is two thirds of the server's work
# (300k topics with 2 replies each: 14-16 s with the triggers, 5.1-5.3 s without).
# A bulk chunk instead runs its COPY with per-row triggers off (session_replication_role
# = replica, for this transaction only) and checks the parents itself, once: every row
# a chunk points at is either written by the chunk or locked by it afterwards in one
# statement per table (``lock_rows``, or the update of its counters), and the chunk
# fails if one is gone (``check_locked``). That is the guarantee the triggers give, at
# a lock per parent instead of one per child.

_MAY_SKIP_TRIGGERS: dict[str, bool] = {}


@contextmanager
def row_triggers_off(session: Session, wanted: bool) -> Iterator[None]:
    """Run the block with PostgreSQL's per-row triggers off when ``wanted`` and the
    database role may (a superuser, or ``GRANT SET ON PARAMETER session_replication_role``
    on PostgreSQL 15+). Elsewhere the block runs as it is, triggers and all."""
    if not wanted or not is_postgres(session) or not _may_skip_triggers(session):
        yield
        return
    connection = session.connection()
    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    yield  # (on an error the transaction is rolled back, and the setting with it)
    connection.exec_driver_sql("SET LOCAL session_replication_role = origin")


def _may_skip_triggers(session: Session) -> bool:
    """Asked once per database: may this role set session_replication_role?"""
    key = session.get_bind().url.render_as_string(hide_password=False)
    allowed = _MAY_SKIP_TRIGGERS.get(key)
    if allowed is None:
        try:
            with session.begin_nested():
                session.connection().exec_driver_sql("SET LOCAL session_replication_role = origin")
            allowed = True
        except DBAPIError as exc:
            if not isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
                raise
            allowed = False
            log.warning("bulk import: this database role may not set "
                        "session_replication_role, so PostgreSQL checks foreign keys row by "
                        "row (about 3x the COPY time); see README, 'Bulk import'")  # fmt: skip
        _MAY_SKIP_TRIGGERS[key] = allowed
    return allowed


class MissingParent(Exception):
    """A row that new rows point at was deleted before the chunk could lock it."""


def lock_rows(session: Session, table: str, key: str, keys: Sequence[int], *,
              must_exist: bool) -> None:  # fmt: skip
    """Lock ``table``'s rows whose ``key`` is in ``keys`` (distinct), in key order, FOR NO
    KEY UPDATE: concurrent chunks sharing a user or a category queue instead of
    deadlocking, and no one deletes the rows before commit. ``must_exist``: they are
    parents of rows this chunk wrote, so one that is missing (deleted since the chunk
    looked it up) fails the chunk as its foreign key would have, with an
    ``IntegrityError`` (the bulk worker runs the chunk again with fresh lookups)."""
    statement = (f"SELECT count(*) FROM (SELECT 1 FROM {table} "
                 f"WHERE {key} = ANY(CAST(%s AS bigint[])) ORDER BY {key} "
                 "FOR NO KEY UPDATE) AS locked")  # fmt: skip
    with driver_cursor(session, statement) as cursor:
        row = cursor.execute(statement, (int_array(keys),)).fetchone()
    if must_exist:
        check_locked(statement, table, len(keys), row[0] if row else 0)


def check_locked(statement: str, table: str, wanted: int, locked: int) -> None:
    """Fail the chunk, as a foreign key would, if fewer parent rows were locked (by a
    lock or an update) than it points at."""
    if locked != wanted:
        gone = MissingParent(f"{wanted - locked} of {wanted} {table} rows are gone")
        raise IntegrityError(statement, None, gone)

"""Engines and sessions for the forum database."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _tune_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # API and worker processes share the file: WAL lets readers run beside the
    # one writer, and the busy timeout makes writers queue instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
    # Take the write lock at BEGIN so two writers never deadlock upgrading a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn) -> None:  # type: ignore[no-untyped-def]
    # A reader takes no lock at BEGIN: WAL lets it read its snapshot beside the writer.
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, pre_ping: bool = True, reader: bool = False) -> Engine:
    """``pre_ping``: test each pooled connection before use (a round trip per
    transaction). Without it a connection the server dropped fails its first statement
    and the pool discards every connection as old; for callers that retry anyway.
    ``reader``: SQLite transactions that only read begin deferred."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None}
        )
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_deferred if reader else _begin_immediate)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=pre_ping)


@lru_cache(maxsize=8)
def read_session_factory(url: str) -> sessionmaker[Session]:
    """Sessions that only read (the read API): on SQLite their transactions begin
    deferred, so a read never waits for, nor holds up, the one writer; elsewhere the
    process's shared engine."""
    if not url.startswith("sqlite"):
        return _session_factory(url, True)
    engine = make_engine(url, reader=True)
    _engines.append(engine)
    return sessionmaker(engine, expire_on_commit=False)


def engine_for(url: str, *, pre_ping: bool = True) -> Engine:
    """One engine (one pool) per URL and ``pre_ping``, shared by the process."""
    return _engine(url, pre_ping)


def session_factory(url: str, *, pre_ping: bool = True) -> sessionmaker[Session]:
    return _session_factory(url, pre_ping)


_engines: list[Engine] = []


# Positional cache keys: engine_for(url) and engine_for(url, pre_ping=True) are one engine.
@lru_cache(maxsize=8)
def _engine(url: str, pre_ping: bool) -> Engine:
    engine = make_engine(url, pre_ping=pre_ping)
    _engines.append(engine)
    return engine


def _forget_inherited_connections() -> None:
    """In a forked child: the pooled connections are the parent's sockets (a Celery pool
    process replacing a dead one is forked after the sweeper used the database); two
    processes talking on one socket corrupt both sessions. Left to the parent, unclosed."""
    for engine in _engines:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


@lru_cache(maxsize=8)
def _session_factory(url: str, pre_ping: bool) -> sessionmaker[Session]:
    return sessionmaker(_engine(url, pre_ping), expire_on_commit=False)


@contextmanager
def transaction(url: str, *, pre_ping: bool = True) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on error."""
    with session_factory(url, pre_ping=pre_ping)() as session, session.begin():
        yield session

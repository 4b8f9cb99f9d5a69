"""Alembic revisions on PostgreSQL: what they set, and that they go back down."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event

from devstack import databases
from forum.db import engine_for, transaction
from forum.migrate import alembic_config, upgrade
from forum.models import Base
from forum.users import email_keys, email_taken
from tests.support import require_postgres


@pytest.fixture
def empty_database() -> Iterator[str]:
    require_postgres()
    with databases.fresh_database(prefix="forumq_migrations", migrated=False) as url:
        yield url


def _users_options(database_url: str) -> list[str] | None:
    dsn = databases.pg_dsn(database_url)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'users'").fetchone()
    return row[0] if row else None


def test_users_leave_room_for_counter_updates_and_the_revision_reverts(
    empty_database: str,
) -> None:
    upgrade(empty_database)
    assert _users_options(empty_database) == ["fillfactor=80"]
    command.downgrade(alembic_config(empty_database), "0002")
    assert _users_options(empty_database) is None
    upgrade(empty_database)
    assert _users_options(empty_database) == ["fillfactor=80"]


def _command_storage(database_url: str) -> str:
    dsn = databases.pg_dsn(database_url)
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'jobs'::regclass AND attname = 'command'"
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_job_commands_are_not_compressed_again_and_the_revision_reverts(
    empty_database: str,
) -> None:
    upgrade(empty_database)
    assert _command_storage(empty_database) == "e"  # external: out of line, uncompressed
    command.downgrade(alembic_config(empty_database), "0003")
    assert _command_storage(empty_database) == "x"  # extended, PostgreSQL's default
    upgrade(empty_database)
    assert _command_storage(empty_database) == "e"


def _topic_indexes(database_url: str) -> set[str]:
    dsn = databases.pg_dsn(database_url)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'topics'")
        return {name for (name,) in rows}


def test_topics_keep_one_index_by_category_and_the_revision_reverts(empty_database: str) -> None:
    upgrade(empty_database)
    assert "ix_topics_cid" not in _topic_indexes(empty_database)
    assert "ix_topics_cid_lastposttime" in _topic_indexes(empty_database)
    command.downgrade(alembic_config(empty_database), "0004")
    assert "ix_topics_cid" in _topic_indexes(empty_database)
    upgrade(empty_database)
    assert "ix_topics_cid" not in _topic_indexes(empty_database)


def _schema_drift(database_url: str) -> list[object]:
    """What Alembic would change to make the migrated database match the models."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_the_migrations_build_the_schema_the_models_declare(empty_database: str) -> None:
    upgrade(empty_database)
    assert _schema_drift(empty_database) == []


# SQLite cannot reflect expression indexes (ix_users_email_lower): PostgreSQL checks it.
@pytest.mark.filterwarnings("ignore:.*expression-based index.*")
def test_the_migrations_build_the_declared_schema_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'forum.db'}"
    upgrade(url)
    assert _schema_drift(url) == []


def _external_id_collations(database_url: str) -> dict[str, str | None]:
    dsn = databases.pg_dsn(database_url)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'external_id'"
        )
        return dict(rows.fetchall())


def test_external_ids_compare_bytewise_and_the_revision_reverts(empty_database: str) -> None:
    tables = ("categories", "posts", "topics", "users")
    upgrade(empty_database)
    assert _external_id_collations(empty_database) == dict.fromkeys(tables, "C")
    command.downgrade(alembic_config(empty_database), "0005")
    assert _external_id_collations(empty_database) == dict.fromkeys(tables, None)
    upgrade(empty_database)
    assert _external_id_collations(empty_database) == dict.fromkeys(tables, "C")


def _users_indexes(database_url: str) -> dict[str, str]:
    with psycopg.connect(databases.pg_dsn(database_url)) as conn:
        rows = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'users'")
        return {name: definition for name, definition in rows}


def _add_users(database_url: str, emails: list[str]) -> None:
    with psycopg.connect(databases.pg_dsn(database_url)) as conn:
        for n, email in enumerate(emails):
            conn.execute(
                "INSERT INTO users (username, userslug, email, joindate, lastonline,"
                " lastposttime, postcount, topiccount, reputation, banned, banned_until,"
                " ban_reason, follower_count, following_count, profile)"
                " VALUES (%s, %s, %s, 0, 0, 0, 0, 0, 0, false, 0, '', 0, 0, '{}')",
                [f"user{n}", f"user{n}", email],
            )


def test_emails_are_unique_in_any_case_and_the_revision_reverts(empty_database: str) -> None:
    upgrade(empty_database)
    indexes = _users_indexes(empty_database)
    assert "uq_users_email" not in indexes  # the case-sensitive one, made redundant
    assert indexes["ix_users_email_lower"].startswith("CREATE UNIQUE INDEX")
    assert "lower((email)::text)" in indexes["ix_users_email_lower"]
    _add_users(empty_database, ["Ann@Example.org"])
    with pytest.raises(psycopg.errors.UniqueViolation):
        _add_users(empty_database, ["ann@example.ORG"])
    command.downgrade(alembic_config(empty_database), "0006")
    indexes = _users_indexes(empty_database)
    assert "ix_users_email_lower" not in indexes and "uq_users_email" in indexes
    upgrade(empty_database)
    assert "ix_users_email_lower" in _users_indexes(empty_database)


def test_addresses_differing_only_in_case_stop_the_revision_and_are_named(
    empty_database: str,
) -> None:
    upgrade(empty_database, "0006")
    _add_users(empty_database, ["bob@x.org", "Ann@x.org", "ANN@X.ORG", "ann@x.org"])
    with pytest.raises(RuntimeError) as caught:
        upgrade(empty_database)
    message = str(caught.value)
    assert "3 users hold e-mail addresses that differ only in case" in message
    assert "Ann@x.org (uid 2), ANN@X.ORG (uid 3), ann@x.org (uid 4)" in message
    assert "bob@x.org" not in message
    # Nothing changed: still at 0006, every address as it was.
    with psycopg.connect(databases.pg_dsn(empty_database)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0006",)
        emails = [row[0] for row in conn.execute("SELECT email FROM users ORDER BY uid")]
    assert emails == ["bob@x.org", "Ann@x.org", "ANN@X.ORG", "ann@x.org"]
    assert "uq_users_email" in _users_indexes(empty_database)
    # The operator gives the address to one user; the revision then applies.
    with psycopg.connect(databases.pg_dsn(empty_database)) as conn:
        conn.execute("UPDATE users SET email = NULL WHERE uid IN (3, 4)")
    upgrade(empty_database)
    assert "ix_users_email_lower" in _users_indexes(empty_database)


def test_the_email_checks_find_addresses_through_the_index(empty_database: str) -> None:
    """On a users table of 20,000 rows, every statement the checks send (single writes'
    and a bulk chunk's) is planned as a probe of ix_users_email_lower, never a scan."""
    upgrade(empty_database)
    with psycopg.connect(databases.pg_dsn(empty_database)) as conn:
        conn.execute(
            "INSERT INTO users (username, userslug, email, joindate, lastonline,"
            " lastposttime, postcount, topiccount, reputation, banned, banned_until,"
            " ban_reason, follower_count, following_count, profile)"
            " SELECT 'u' || n, 'u' || n, 'User' || n || '@Example.org', 0, 0, 0, 0, 0, 0,"
            " false, 0, '', 0, 0, '{}' FROM generate_series(1, 20000) AS n"
        )
        conn.execute("ANALYZE users")
    sent: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    engine = engine_for(empty_database)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with transaction(empty_database) as session:
            assert email_taken(session, "user7@example.ORG")
            assert not email_taken(session, "USER7@example.org", other_than=7)
            keys, taken = email_keys(session, ["USER8@example.org", "nobody@example.org"])
        assert taken == {keys["USER8@example.org"]} == {"user8@example.org"}
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        engine.dispose()
    reading_users = [(sql, params) for sql, params in sent if "FROM users" in sql]
    assert len(reading_users) == 3
    with psycopg.connect(databases.pg_dsn(empty_database)) as conn:
        for statement, parameters in reading_users:
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + statement, parameters))
            assert "ix_users_email_lower" in plan and "Seq Scan on users" not in plan, plan


def _tables(database_url: str) -> set[str]:
    dsn = databases.pg_dsn(database_url)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


def test_chunk_crashes_are_a_table_and_the_revision_reverts(empty_database: str) -> None:
    upgrade(empty_database)
    assert "job_chunk_crashes" in _tables(empty_database)
    command.downgrade(alembic_config(empty_database), "0007")
    assert "job_chunk_crashes" not in _tables(empty_database)
    assert "job_chunks" in _tables(empty_database)
    upgrade(empty_database)
    assert "job_chunk_crashes" in _tables(empty_database)


def test_topics_by_last_reply_is_an_index_and_the_revision_reverts(empty_database: str) -> None:
    upgrade(empty_database)
    assert "ix_topics_lastposttime" in _topic_indexes(empty_database)
    command.downgrade(alembic_config(empty_database), "0009")
    assert "ix_topics_lastposttime" not in _topic_indexes(empty_database)
    upgrade(empty_database)
    assert "ix_topics_lastposttime" in _topic_indexes(empty_database)


def _sqlite_rows(path: Path, statement: str) -> list[Any]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(statement).fetchall()


def _sqlite_execute(path: Path, *statements: str) -> None:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA foreign_keys = ON")
        for statement in statements:
            conn.execute(statement)


@pytest.mark.filterwarnings("ignore:.*expression-based index.*")
def test_sqlite_never_reuses_ids_after_the_revision_and_it_reverts(tmp_path: Path) -> None:
    path = tmp_path / "forum.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0010")
    user = (
        "INSERT INTO users (uid, username, userslug, email, joindate, lastonline, "
        "lastposttime, postcount, topiccount, reputation, banned, banned_until, ban_reason, "
        "follower_count, following_count, profile) VALUES "
        "({uid}, 'u{uid}', 'u{uid}', 'U{uid}@x.org', 0, 0, 0, 0, 0, 0, 0, 0, '', 0, 0, '{{}}')"
    )
    _sqlite_execute(path, user.format(uid=1), user.format(uid=2))
    upgrade(url)
    # Rows and ids kept; the e-mail index (dropped around the rebuild) still refuses a case twin.
    assert _sqlite_rows(path, "SELECT uid FROM users ORDER BY uid") == [(1,), (2,)]
    with pytest.raises(Exception, match="UNIQUE"):
        _sqlite_execute(path, user.format(uid=3).replace("U3@x.org", "u2@X.ORG"))
    _sqlite_execute(path, "DELETE FROM users WHERE uid = 2", user.format(uid="NULL").replace(
        "'uNULL'", "'fresh'").replace("UNULL@x.org", "f@x.org"))  # fmt: skip
    assert _sqlite_rows(path, "SELECT uid FROM users WHERE userslug = 'fresh'") == [(3,)]
    command.downgrade(alembic_config(url), "0010")
    assert "AUTOINCREMENT" not in _sqlite_rows(
        path, "SELECT sql FROM sqlite_master WHERE name = 'users'")[0][0]  # fmt: skip
    assert _sqlite_rows(path, "SELECT count(*) FROM users") == [(2,)]


@pytest.mark.filterwarnings("ignore:.*expression-based index.*")
def test_existing_chat_members_own_their_rooms_and_the_revision_reverts(tmp_path: Path) -> None:
    path = tmp_path / "forum.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0013")
    user = (
        "INSERT INTO users (uid, username, userslug, joindate, lastonline, lastposttime, "
        "postcount, topiccount, reputation, banned, banned_until, ban_reason, follower_count, "
        "following_count, profile) VALUES ({uid}, 'u{uid}', 'u{uid}', 0, 0, 0, 0, 0, 0, 0, 0, "
        "'', 0, 0, '{{}}')"
    )
    _sqlite_execute(
        path, user.format(uid=1), user.format(uid=2),
        "INSERT INTO chat_rooms (room_id, owner_uid, created_at, message_count) "
        "VALUES (1, 1, 0, 1)",
        "INSERT INTO chat_room_members VALUES (1, 1, 0), (1, 2, 0)",
        "INSERT INTO chat_messages (mid, room_id, uid, content, timestamp) "
        "VALUES (1, 1, 1, 'hi', 0)",
    )  # fmt: skip
    upgrade(url)
    # A one-to-one room: core makes both users owners.
    assert _sqlite_rows(path, "SELECT uid, is_owner FROM chat_room_members") == [(1, 1), (2, 1)]
    assert _sqlite_rows(path, "SELECT deleted, edited, pinned_at FROM chat_messages") == [(0, 0, 0)]
    assert _sqlite_rows(path, "SELECT room_name FROM chat_rooms") == [("",)]
    command.downgrade(alembic_config(url), "0013")
    assert _sqlite_rows(path, "SELECT * FROM chat_room_members") == [(1, 1, 0), (1, 2, 0)]
    for table in ("chat_rooms", "chat_messages"):
        assert "AUTOINCREMENT" in _sqlite_rows(
            path, f"SELECT sql FROM sqlite_master WHERE name = '{table}'")[0][0]  # fmt: skip
    upgrade(url)

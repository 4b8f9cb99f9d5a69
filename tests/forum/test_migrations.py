"""Alembic revisions on PostgreSQL: what they set, and that they go back down."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command

from forum.migrate import alembic_config, upgrade
from tests import servers


@pytest.fixture
def empty_database() -> Iterator[str]:
    servers.require(servers.port_open("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    admin = servers.PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"forumq_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield servers.PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _users_options(database_url: str) -> list[str] | None:
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
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
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
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

"""Fixtures: a fresh PostgreSQL database, Redis, and forumq stacks of real processes.

``stack`` runs the production shape (uvicorn + Celery worker processes, Redis broker,
PostgreSQL); ``embedded_stack`` the embedded default (SQLite + SQLite broker).
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from forum.db import engine_for
from forum.migrate import upgrade
from tests import servers

# The stacks' JWT secret: long enough for a server database (forumq serve refuses less).
JWT_SECRET = "forumq-test-jwt-secret-0123456789abcdef"


@dataclass
class Stack:
    """A running forumq: its base URL, database and the ids the seed created."""

    base_url: str
    database_url: str
    env: dict[str, str]
    admin_uid: int
    master_token: str
    admin_token: str
    cid: int

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def session(self) -> Session:
        return sessionmaker(engine_for(self.database_url))()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this test session, dropped after."""
    servers.require(servers.port_open("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    name = f"forumq_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(servers.pg_dsn(servers.PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = servers.PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    engine_for(url).dispose()
    with psycopg.connect(servers.pg_dsn(servers.PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    up = servers.port_open("127.0.0.1", 6379) and redis.Redis.from_url(servers.REDIS_URL).ping()
    servers.require(bool(up), "Redis on 127.0.0.1:6379")
    return servers.REDIS_URL


def seed(database_url: str) -> tuple[int, str, str, int]:
    """An admin, a master token, the admin's own token and one category."""
    from forum import tokens
    from forum.categories import create_category
    from forum.db import transaction
    from forum.users import create_user

    with transaction(database_url) as session:
        admin = create_user(session, None, f"admin-{uuid.uuid4().hex[:6]}", password="password1",
                            admin=True)  # fmt: skip
        master = tokens.create_master_token(session)
        own = tokens.issue_user_token(session, admin.uid)
        category = create_category(session, None, "General Discussion")
        return admin.uid, master, own, category.cid


def _start_stack(tmp: Path, env: dict[str, str], database_url: str) -> Iterator[Stack]:
    admin_uid, master, own, cid = seed(database_url)
    with (
        servers.running_worker(env, tmp / "worker.log", "--concurrency=2"),
        servers.running_api(env, tmp / "api.log") as base_url,
    ):
        yield Stack(base_url, database_url, env, admin_uid, master, own, cid)


@pytest.fixture(scope="session")
def stack(pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Production shape: PostgreSQL, Redis broker and notifications, real processes."""
    tmp = tmp_path_factory.mktemp("stack")
    env = {
        "FORUMQ_DATABASE_URL": pg_url,
        "FORUMQ_BROKER_URL": redis_url,
        "FORUMQ_INTERACTIVE_QUEUE": f"forumq.test.{os.getpid()}",
        "FORUMQ_BULK_QUEUE": f"forumq.test.{os.getpid()}.bulk",
        "FORUMQ_JWT_SECRET": JWT_SECRET,
    }
    yield from _start_stack(tmp, env, pg_url)


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The embedded default: one SQLite file shared by API and worker, SQLite broker."""
    tmp = tmp_path_factory.mktemp("embedded")
    database_url = f"sqlite:///{tmp / 'forumq.sqlite3'}"
    upgrade(database_url)
    env = {
        "FORUMQ_DATABASE_URL": database_url,
        "FORUMQ_BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.sqlite3'}",
        "FORUMQ_JWT_SECRET": JWT_SECRET,
    }
    yield from _start_stack(tmp, env, database_url)


@pytest.fixture(params=["postgres", "embedded"])
def any_stack(request: pytest.FixtureRequest) -> Stack:
    """Runs a test on both the production shape and the embedded default."""
    name = "stack" if request.param == "postgres" else "embedded_stack"
    return request.getfixturevalue(name)

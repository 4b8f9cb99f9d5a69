"""Fixtures: a fresh PostgreSQL database, Redis, and forumq stacks of real processes.

``stack`` runs the production shape (uvicorn + Celery worker processes, Redis broker,
PostgreSQL); ``embedded_stack`` the embedded default (SQLite + SQLite broker).
"""

import os
from collections.abc import Iterator

import pytest
import redis

from devstack import databases, servers
from forum.migrate import upgrade
from tests.core_v3 import Core
from tests.support import (
    JWT_SECRET,
    Stack,
    require,
    require_postgres,
    start_stack,
    user_with_token,
)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this test session, dropped after."""
    require_postgres()
    with databases.fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = databases.REDIS_URL
    up = servers.port_open("127.0.0.1", 6379) and redis.Redis.from_url(url).ping()
    require(bool(up), "Redis on 127.0.0.1:6379")
    return url


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
    yield from start_stack(tmp, env, pg_url)


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
    yield from start_stack(tmp, env, database_url)


@pytest.fixture(params=["postgres", "embedded"])
def any_stack(request: pytest.FixtureRequest) -> Stack:
    """Runs a test on both the production shape and the embedded default."""
    name = "stack" if request.param == "postgres" else "embedded_stack"
    return request.getfixturevalue(name)


@pytest.fixture(scope="module")
def core(stack: Stack) -> Core:
    """NodeBB core's v3 router on the production-shape stack."""
    return Core(stack)


@pytest.fixture
def member(stack: Stack) -> tuple[int, str]:
    """A new regular user, and a token of theirs."""
    return user_with_token(stack.database_url)

"""Databases for a local forumq: a fresh, migrated PostgreSQL database per run, the rows
every run starts from, and the Redis keys a run leaves behind."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import redis
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("FORUMQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FORUMQ_TEST_REDIS", "redis://127.0.0.1:6379/0")
CONTENT = "A first post, long enough to pass the length rule."


def pg_dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg's connection string."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def fresh_database(
    admin_url: str = PG_ADMIN_URL, *, prefix: str = "forumq_test", keep: bool = False,
    port: int | None = None, migrated: bool = True,
) -> Iterator[str]:  # fmt: skip
    """A new database ``<prefix>_<random>`` on admin_url's server, migrated unless not
    ``migrated``, dropped after unless ``keep``. With ``port``, the URL yielded reaches it
    there (a proxy in front of the server, which a test can cut)."""
    from forum.db import engine_for
    from forum.migrate import upgrade

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    direct = make_url(admin_url).set(database=name)
    url = direct.set(port=port) if port else direct
    try:
        if migrated:
            upgrade(direct.render_as_string(hide_password=False))
        yield url.render_as_string(hide_password=False)
    finally:
        engine_for(url.render_as_string(hide_password=False)).dispose()
        if keep:
            print(f"kept database {direct.render_as_string()}", flush=True)
        else:
            with psycopg.connect(pg_dsn(admin_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Seed:
    """What a run starts from: an administrator, a master token, the administrator's own
    token, one category, and ``topics`` topics in it."""

    admin_uid: int
    master_token: str
    admin_token: str
    cid: int
    tids: list[int]


def seed(database_url: str, topics: int = 0) -> Seed:
    """Made through the forum functions, the operator's path (like the CLI)."""
    from forum import tokens
    from forum.categories import create_category
    from forum.db import transaction
    from forum.topics import create_topic
    from forum.users import create_user

    with transaction(database_url) as session:
        admin = create_user(session, None, f"admin-{uuid.uuid4().hex[:6]}", password="password1",
                            admin=True)  # fmt: skip
        master = tokens.create_master_token(session)
        own = tokens.issue_user_token(session, admin.uid)
        cid = create_category(session, None, "General Discussion").cid
        tids = [
            int(create_topic(session, admin.uid, cid, f"Topic {i}", CONTENT)["topicData"]["tid"])
            for i in range(topics)
        ]
        return Seed(admin.uid, master, own, cid, tids)


def purge_queue(redis_url: str, name: str) -> None:
    """Drop a run's queues, messages and kombu bindings: every key containing ``name``
    (a queue name, or the random id a run puts in all its queue names)."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{name}*"))
    if keys:
        client.delete(*keys)

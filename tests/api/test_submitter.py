"""The accept path's event-loop store (psycopg AsyncConnection) and publisher (Redis LPUSH)."""

import asyncio
import time
import uuid

import psycopg
from sqlalchemy import select

from forum.jobqueue import store as jobs
from forum.jobqueue.async_store import AsyncStore, async_store_url
from forum.jobqueue.publishing import RedisPublisher
from forum.jobqueue.store import DuplicateKey, StoreUnavailable
from forum.jobqueue.tasks import APPLY_JOBS, apply_jobs_args, make_celery
from forum.models import Job, Post
from tests.support import Stack, reply_job


def test_async_store_url() -> None:
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:5432/test"
    assert async_store_url(url) == "postgresql://postgres:s3cret@127.0.0.1:5432/test"
    assert async_store_url("sqlite:///forumq.sqlite3") is None


def test_async_store_commits_in_order_and_flags_duplicate_keys(pg_url: str) -> None:
    dsn = async_store_url(pg_url)
    assert dsn is not None
    first = [reply_job(1, 1, f"first {i}") for i in range(3)]
    key = f"key-{uuid.uuid4().hex}"
    second = [
        reply_job(1, 1, "keyed", key),
        reply_job(1, 1, "plain"),
        reply_job(1, 1, "again", key),
    ]

    async def run() -> tuple[list[Exception | None], list[Exception | None]]:
        store = AsyncStore(dsn)
        try:
            return await store.store(first), await store.store(second)
        finally:
            await store.close()

    outcomes_first, outcomes_second = asyncio.run(run())
    assert outcomes_first == [None, None, None]
    assert outcomes_second[:2] == [None, None]
    assert isinstance(outcomes_second[2], DuplicateKey)
    # Committed (visible to another connection) and numbered in acceptance order.
    with psycopg.connect(dsn) as conn:
        ids = [r["id"] for r in [*first, *second[:2]]]
        stored = conn.execute(
            "SELECT id, command FROM jobs WHERE id = ANY(%s) ORDER BY seq", [ids]
        ).fetchall()
        assert [row[0] for row in stored] == ids
        assert stored[0][1] == first[0]["command"]
        assert not conn.execute("SELECT 1 FROM jobs WHERE id = %s", [second[2]["id"]]).fetchall()


def test_async_store_reconnects_after_losing_its_connection(pg_url: str) -> None:
    dsn = async_store_url(pg_url)
    assert dsn is not None
    rows = [reply_job(1, 1, "before"), reply_job(1, 1, "after the server dropped us")]

    async def run() -> list[Exception | None]:
        store = AsyncStore(dsn)
        try:
            assert await store.store(rows[:1]) == [None]
            connection = store._connections[True]
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [connection.info.backend_pid])
            # The group finds its connection gone: nothing of it was stored, so it is
            # stored again on a new connection instead of being refused.
            return await store.store(rows[1:])
        finally:
            await store.close()

    assert asyncio.run(run()) == [None]
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT count(*) FROM jobs WHERE id = ANY(%s)", [[r["id"] for r in rows]]
        ).fetchone()
    assert found == (2,)


def test_async_store_commits_a_group_of_waiting_callers_without_an_fsync_of_its_own(
    pg_url: str,
) -> None:
    """Only a group with a caller answered 202 at once waits for the WAL flush; a group
    of waiting callers relies on the worker's synchronous commit, or on ``flush``."""
    dsn = async_store_url(pg_url)
    assert dsn is not None
    waiting, answered_now = reply_job(1, 1, "waits"), reply_job(1, 1, "answered at once")

    async def commit_modes() -> dict[bool, str]:
        store = AsyncStore(dsn)
        try:
            assert await store.store([waiting], durable=False) == [None]
            assert await store.store([answered_now], durable=True) == [None]
            await store.flush()
            modes = {}
            for durable, connection in store._connections.items():
                cursor = await connection.execute("SHOW synchronous_commit")
                modes[durable] = (await cursor.fetchone())[0]  # type: ignore[index]
            return modes
        finally:
            await store.close()

    assert asyncio.run(commit_modes()) == {False: "off", True: "on"}
    with psycopg.connect(dsn) as conn:
        ids = [waiting["id"], answered_now["id"]]
        found = conn.execute("SELECT count(*) FROM jobs WHERE id = ANY(%s)", [ids]).fetchone()
    assert found == (2,)


def test_async_store_flush_refuses_when_the_database_is_unreachable() -> None:
    async def run() -> None:
        store = AsyncStore("postgresql://postgres@127.0.0.1:9/nowhere")
        try:
            await store.flush()
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except StoreUnavailable:
        pass
    else:
        raise AssertionError("flush answered without a database")


def test_async_store_refuses_when_the_database_is_unreachable() -> None:
    async def run() -> list[Exception | None]:
        store = AsyncStore("postgresql://postgres@127.0.0.1:9/nowhere")
        try:
            return await store.store([reply_job(1, 1, "nowhere")])
        finally:
            await store.close()

    [outcome] = asyncio.run(run())
    assert isinstance(outcome, StoreUnavailable)


def test_a_celery_worker_applies_a_message_published_with_lpush(
    stack: Stack, redis_url: str
) -> None:
    with stack.client(stack.admin_token) as client:
        created = client.post(
            "/api/v1/topics", json={"title": "Pushed", "content": "Opening post", "cid": stack.cid}
        )
    assert created.status_code == 200, created.text
    tid = created.json()["payload"]["topicData"]["tid"]
    row = reply_job(tid, stack.admin_uid, "A reply published by LPUSH")
    dsn = async_store_url(stack.database_url)
    assert dsn is not None

    async def accept() -> None:
        store = AsyncStore(dsn)
        queue = stack.env["FORUMQ_INTERACTIVE_QUEUE"]
        publisher = RedisPublisher(make_celery(redis_url, queue, "unused"), redis_url, queue)
        try:
            assert await store.store([row]) == [None]
            await publisher.push(publisher.task_message(APPLY_JOBS, apply_jobs_args([row["id"]])))
        finally:
            await store.close()
            await publisher.close()

    asyncio.run(accept())
    deadline = time.monotonic() + 30
    with stack.session() as session:
        while True:
            job = session.scalar(select(Job).where(Job.id == row["id"]))
            assert job is not None
            if job.state in (jobs.SUCCEEDED, jobs.FAILED) or time.monotonic() > deadline:
                break
            session.rollback()
            time.sleep(0.05)
        assert job.state == jobs.SUCCEEDED, (job.state, job.error)
        assert job.result is not None
        post = session.get(Post, job.result["pid"])
        assert post is not None and post.tid == tid
        assert post.content == "A reply published by LPUSH"

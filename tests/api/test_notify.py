"""Completion notices carry the final answer: a waiting request answers from the notice
without reading the job back; ids-only notices (bulk jobs, big answers) still wake it."""

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.waiter import Waiter
from devstack import databases, servers
from forum.jobqueue import notices
from forum.jobqueue.notices import Notifier
from forum.models import Job, Post
from tests.support import Stack, reply_job

CONTENT = "Content that is long enough"


def test_notice_round_trip_keeps_small_answers_and_drops_big_ones() -> None:
    small = {"state": "succeeded", "result": {"pid": 7, "content": "é"}, "error": None}
    big = {"state": "succeeded", "result": {"content": "x" * notices.MAX_ANSWER_BYTES}}
    failed = {"state": "failed", "result": None, "error": {"kind": "not-found", "key": "no-topic"}}
    data = notices.encode(["a", "b", "c", "d"], {"a": small, "b": big, "c": failed})
    assert notices.decode(data) == {"a": small, "b": None, "c": failed, "d": None}
    # Ids only: the format workers used before, and bulk jobs still use.
    assert notices.encode(["a", "b"]) == b"a,b"
    assert notices.decode(b"a,b") == {"a": None, "b": None}


def test_waiter_gets_the_answer_published_by_a_worker(redis_url: str, pg_url: str) -> None:
    answer = {"state": "succeeded", "result": {"pid": 1}, "error": None}
    job_id, other = uuid.uuid4().hex, uuid.uuid4().hex

    async def scenario() -> tuple[object, object]:
        waiter = Waiter(redis_url, pg_url)
        await waiter.start()
        try:
            with_answer, ids_only = waiter.expect(job_id), waiter.expect(other)
            await asyncio.sleep(0.3)  # subscribed
            publisher = Notifier(redis_url)
            publisher.job_finished([job_id], {job_id: answer})
            publisher.job_finished([other])
            return (
                await waiter.wait(job_id, 5, with_answer),
                await waiter.wait(other, 5, ids_only),
            )
        finally:
            await waiter.stop()

    assert asyncio.run(scenario()) == (answer, None)


@pytest.mark.parametrize("router", ["v1", "v2"])
def test_sync_reply_answers_from_the_notice_like_the_job(
    stack: Stack, router: str, tmp_path: Path
) -> None:
    """An API beside the stack's worker, on its queue, that logs each job a waiting
    request reads back: with working notices none is (the body would be the same)."""
    log = tmp_path / "api.log"
    argv = ["-m", "tests.api.watched_api", "serve"]
    with servers.http_server(argv, stack.env, log) as (base_url, _api):
        headers = {"Authorization": f"Bearer {stack.admin_token}", "Prefer": "wait=10"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            topic = client.post(
                f"/api/{router}/topics",
                json={"cid": stack.cid, "title": "Notices", "content": CONTENT},
            )
            assert topic.status_code == 200, topic.text
            tid = topic.json()["payload"]["topicData"]["tid"]
            # The API subscribes to notices in the background as it starts: by now it has.
            before = log.stat().st_size
            reply = client.post(f"/api/{router}/topics/{tid}", json={"content": CONTENT})
            missing = client.post(f"/api/{router}/topics/99999999", json={"content": CONTENT})
        assert reply.status_code == 200, reply.text
        assert missing.status_code == 404, missing.text
        read_back = [line for line in log.read_bytes()[before:].splitlines()
                     if line.startswith(b"read back")]  # fmt: skip
    assert read_back == [], "a waiting request read its job back instead of using the notice"
    post = reply.json()["payload"]
    assert post["tid"] == tid and post["content"] == f"<p>{CONTENT}</p>\n"
    with stack.session() as session:
        stored = session.get(Post, post["pid"])
        assert stored is not None and stored.content == CONTENT
        job = session.scalars(select(Job).order_by(Job.seq.desc())).first()
        # The apply transaction counted its one delivery with the final state.
        assert job is not None and job.state == "failed" and job.attempts == 1
        assert job.started_at and job.finished_at and job.started_at <= job.finished_at


def test_waiting_on_the_job_route_misses_no_notice(
    redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GET /api/jobs/{id}`` with ``Prefer: wait``: a job that finishes right after the
    route read it (unfinished) still wakes the request at once, not after the wait."""
    import time

    from starlette.testclient import TestClient

    from api import jobs as job_route
    from api.app import create_app
    from forum.db import transaction
    from forum.jobqueue import store as jobs
    from forumq.settings import Settings

    seed = databases.seed(pg_url)
    uid, token = seed.admin_uid, seed.admin_token
    row = reply_job(1, uid, "finishes during the read")
    with transaction(pg_url) as session:
        jobs.insert_jobs(session, [row])
    read = job_route._load

    def read_then_finish(database_url: str, job_id: str) -> Job | None:
        job = read(database_url, job_id)  # still queued
        if job is not None and job.state == jobs.QUEUED:
            # The worker finishes now, between the route's read and its wait.
            with transaction(database_url) as session:
                stored = session.get(Job, job.seq)
                assert stored is not None
                jobs.finish(stored, result={"pid": 1})
            Notifier(redis_url).job_finished([job_id])
        return job

    monkeypatch.setattr(job_route, "_load", read_then_finish)
    settings = Settings(database_url=pg_url, broker_url=redis_url)
    with TestClient(create_app(settings)) as client:
        time.sleep(0.3)  # the waiter has subscribed
        started = time.monotonic()
        response = client.get(
            f"/api/jobs/{row['id']}",
            headers={"Authorization": f"Bearer {token}", "Prefer": "wait=20"},
        )
        took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["payload"]["state"] == "succeeded"
    assert took < 5, f"the finish notice was missed: waited {took:.1f} s"


def test_a_waiter_stopped_while_it_connects_stops(redis_url: str, pg_url: str) -> None:
    """An API whose port is taken stops right after starting: its Waiter must not hang
    (redis-py swallowed a cancellation that landed while it connected)."""

    async def start_and_stop(delay: float) -> bool:
        waiter = Waiter(redis_url, pg_url)
        await waiter.start()
        await asyncio.sleep(delay)
        stopping = asyncio.ensure_future(waiter.stop())
        stopped, _ = await asyncio.wait({stopping}, timeout=3)
        return bool(stopped)

    for step in range(20):
        assert asyncio.run(start_and_stop(step * 0.002)), f"stop hung after {step * 2} ms"

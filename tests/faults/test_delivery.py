"""Fault injection: acknowledged writes survive killed workers, a Redis restart and a
database outage, and are applied exactly once. Each test ends by counting rows."""

import asyncio
import collections
import signal
import threading
from pathlib import Path

import httpx
from sqlalchemy import func, select

from devstack import servers
from forum.db import engine_for
from forum.models import Job, Post
from tests.faults import harness

# How many replies each test sends (32 at a time), and when its fault strikes: enough
# for writes before, during and after it, as the counts at the end show.
KILLED, KILL_AT = 600, 200  # the worker is SIGKILLed after KILL_AT were sent
LOST, LATER = 200, 300  # lost with Redis's messages, then sent once it is back
CUT, CUT_AT = 600, 200  # the database is cut off for 3 s after CUT_AT were sent


def test_worker_killed_mid_batch(tmp_path: Path) -> None:
    with harness.fault_forum(tmp_path) as forum:
        worker = servers.start_worker(forum.env, tmp_path / "worker.log", own_group=True)
        with servers.running_api(forum.env, tmp_path / "api.log") as base_url:
            killed = threading.Event()

            def kill_midway(sent: int) -> None:
                if sent >= KILL_AT and not killed.is_set():
                    killed.set()
                    servers.kill_group(worker)  # SIGKILL, children included

            statuses = asyncio.run(
                harness.send_replies(
                    base_url, forum.token, forum.tids, KILLED, "kill9", on_progress=kill_midway
                )
            )
            assert killed.is_set()
            with engine_for(forum.database_url).connect() as conn:
                unfinished = conn.execute(
                    select(func.count()).where(Job.state.in_(("queued", "running")))
                ).scalar()
            assert unfinished, "the kill came too late to interrupt anything"
            replacement = servers.start_worker(forum.env, tmp_path / "worker.log", own_group=True)
            try:
                harness.wait_for_jobs(forum.database_url, expected=KILLED, timeout=120)
            finally:
                servers.kill_group(replacement)
        assert harness.assert_exactly_once(forum.database_url, statuses, "kill9") == KILLED


def test_redis_restart_without_persistence(tmp_path: Path) -> None:
    with harness.fault_forum(tmp_path) as forum:
        with servers.running_api(forum.env, tmp_path / "api.log") as base_url:
            # No worker yet: these acknowledged writes sit in Redis as messages...
            before = asyncio.run(
                harness.send_replies(base_url, forum.token, forum.tids, LOST, "redis-a")
            )
            assert set(before.values()) == {202}
            forum.redis.restart()  # ...and are gone with it (no persistence).
            log = tmp_path / "worker.log"
            worker = servers.start_worker(forum.env, log, own_group=True)
            try:
                # No message names them any more: only the sweeper can bring them back. (A
                # later wake-up would also claim them, oldest first, so none is sent before.)
                servers.wait_until(lambda: b"re-published" in log.read_bytes(), 60, "re-publish")
                after = asyncio.run(
                    harness.send_replies(base_url, forum.token, forum.tids, LATER, "redis-b")
                )
                acknowledged = sum(1 for s in [*before.values(), *after.values()] if s == 202)
                harness.wait_for_jobs(forum.database_url, expected=acknowledged, timeout=120)
            finally:
                servers.kill_group(worker, signal.SIGTERM)
        assert harness.assert_exactly_once(forum.database_url, before, "redis-a") == LOST
        harness.assert_exactly_once(forum.database_url, after, "redis-b")


def test_database_unreachable_for_seconds(tmp_path: Path) -> None:
    proxy = harness.TcpProxy("127.0.0.1", 5432)
    try:
        with harness.fault_forum(tmp_path, db_port=proxy.port) as forum:
            worker = servers.start_worker(forum.env, tmp_path / "worker.log", own_group=True)
            try:
                with servers.running_api(forum.env, tmp_path / "api.log") as base_url:
                    cut = threading.Event()

                    def cut_midway(sent: int) -> None:
                        if sent >= CUT_AT and not cut.is_set():
                            cut.set()
                            proxy.cut()
                            threading.Timer(3.0, proxy.restore).start()

                    statuses = asyncio.run(
                        harness.send_replies(
                            base_url, forum.token, forum.tids, CUT, "pgcut", on_progress=cut_midway
                        )
                    )
                    counts = collections.Counter(statuses.values())
                    assert set(counts) <= {202, 503}, counts  # never a 500
                    acknowledged = counts[202]
                    harness.wait_for_jobs(forum.database_url, expected=acknowledged, timeout=120)
            finally:
                servers.kill_group(worker, signal.SIGTERM)
            engine_for(forum.database_url).dispose()
            assert (
                harness.assert_exactly_once(forum.database_url, statuses, "pgcut") == acknowledged
            )
    finally:
        proxy.close()


def test_broker_down_answers_503_and_stores_nothing(tmp_path: Path) -> None:
    with harness.fault_forum(tmp_path, topics=1) as forum:
        tid = forum.tids[0]
        headers = {"Authorization": f"Bearer {forum.token}"}
        with servers.running_api(forum.env, tmp_path / "api.log") as base_url:
            forum.redis.kill()
            response = httpx.post(
                f"{base_url}/api/v1/topics/{tid}",
                json={"content": "while the broker is down"}, headers=headers, timeout=30,
            )  # fmt: skip
            assert response.status_code == 503
            assert response.headers["retry-after"]
            assert response.json()["code"] == "service-unavailable"
            forum.redis.start()
            servers.wait_until(
                lambda: httpx.post(
                    f"{base_url}/api/v1/topics/{tid}",
                    json={"content": "once the broker is back"},
                    headers={**headers, "Prefer": "respond-async"},
                ).status_code == 202,
                30, "accepting again",
            )  # fmt: skip
        with engine_for(forum.database_url).connect() as conn:
            contents = conn.execute(select(Job.command)).scalars().all()
        assert [c["content"] for c in contents] == ["once the broker is back"]


def test_a_wait_that_runs_out_answers_202_for_a_stored_job(tmp_path: Path) -> None:
    """A waiting caller's job is committed without an fsync of its own; when no worker
    answers in time, the job is flushed and the caller gets 202 with it, and a worker
    started later applies it."""
    with harness.fault_forum(tmp_path, topics=1) as forum:
        tid = forum.tids[0]
        headers = {"Authorization": f"Bearer {forum.token}", "Prefer": "wait=1"}
        with servers.running_api(forum.env, tmp_path / "api.log") as base_url:
            response = httpx.post(
                f"{base_url}/api/v1/topics/{tid}",
                json={"content": "waited for nobody"}, headers=headers, timeout=30,
            )  # fmt: skip
        assert response.status_code == 202, response.text
        job_id = response.json()["payload"]["job_id"]
        assert response.headers["location"] == f"/api/jobs/{job_id}"
        worker = servers.start_worker(
            forum.env, tmp_path / "worker.log", concurrency=1, own_group=True
        )
        try:
            harness.wait_for_jobs(forum.database_url, expected=1, timeout=30)
        finally:
            servers.kill_group(worker, signal.SIGTERM)
        with engine_for(forum.database_url).connect() as conn:
            contents = conn.execute(select(Post.content).where(Post.tid == tid)).scalars().all()
        assert "waited for nobody" in contents

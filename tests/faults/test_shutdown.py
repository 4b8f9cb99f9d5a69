"""Graceful shutdown: SIGTERM lets a worker finish the job in hand and the API
finish the requests in flight."""

import asyncio
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from devstack import servers
from forum.db import engine_for
from forum.models import Job
from tests.faults import harness


def _count(database_url: str, state: str) -> int:
    with engine_for(database_url).connect() as conn:
        return conn.execute(select(func.count()).where(Job.state == state)).scalar() or 0


# The worker under test (tests/faults/slow_worker.py) claims at most CLAIM jobs a batch
# and applies each batch APPLY_SECONDS slower: its two processes apply at most 40 jobs a
# second, so the backlog lasts 10 s, and SIGTERM comes after the first batch. A task
# claims for up to workers.apply.LOOP_SECONDS (1 s): the two in hand finish soon.
CLAIM = 10
APPLY_SECONDS = 0.5
BACKLOG = 400


def test_sigterm_worker_finishes_the_job_in_hand(tmp_path: Path) -> None:
    with harness.fault_forum(tmp_path, topics=20) as forum:
        env = {**forum.env, "FORUMQ_STALE_AFTER_SECONDS": "600"}  # only shutdown under test
        with servers.running_api(env, tmp_path / "api.log") as base_url:
            statuses = asyncio.run(
                harness.send_replies(base_url, forum.token, forum.tids, BACKLOG, "term")
            )
        slow = {**env, "FORUMQ_TEST_CLAIM_MAX_JOBS": str(CLAIM),
                "FORUMQ_TEST_APPLY_SECONDS": str(APPLY_SECONDS)}  # fmt: skip
        worker = servers.start_worker(
            slow, tmp_path / "worker.log", module="tests.faults.slow_worker", own_group=True
        )
        servers.wait_until(lambda: _count(forum.database_url, "succeeded") > 0, 30, "first job")
        worker.send_signal(signal.SIGTERM)  # warm shutdown
        assert worker.wait(60) == 0
        # Whatever a child had started was finished; nothing is left half-done.
        assert _count(forum.database_url, "running") == 0
        assert _count(forum.database_url, "queued") > 0, "the worker drained everything first"
        replacement = servers.start_worker(env, tmp_path / "worker.log", own_group=True)
        try:
            harness.wait_for_jobs(forum.database_url, expected=BACKLOG, timeout=120)
        finally:
            servers.kill_group(replacement, signal.SIGTERM)
        assert harness.assert_exactly_once(forum.database_url, statuses, "term") == BACKLOG


def test_sigterm_api_finishes_requests_in_flight(tmp_path: Path) -> None:
    with harness.fault_forum(tmp_path, topics=1) as forum:
        port = servers.free_port()
        api = servers.start(["-m", "forumq", "serve", "--port", str(port)], forum.env,
                            tmp_path / "api.log")  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        servers.wait_until(
            lambda: httpx.get(f"{base_url}/api/health").status_code == 200, 60, "API"
        )
        answer: dict[str, httpx.Response] = {}

        def waiting_request() -> None:
            # No worker runs: the request waits its full 3 s, then answers 202.
            answer["response"] = httpx.post(
                f"{base_url}/api/v1/topics/{forum.tids[0]}",
                json={"content": "sent just before shutdown"},
                headers={"Authorization": f"Bearer {forum.token}", "Prefer": "wait=3"},
                timeout=30,
            )

        thread = threading.Thread(target=waiting_request)
        thread.start()
        time.sleep(1.0)
        api.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base_url}/api/health", timeout=2)  # no longer accepting
        thread.join(30)
        # uvicorn re-raises the signal after its graceful shutdown completes.
        assert api.wait(30) in (0, -signal.SIGTERM)
        assert b"Application shutdown complete" in (tmp_path / "api.log").read_bytes()
        response = answer["response"]
        assert response.status_code == 202
        job_id = response.json()["payload"]["job_id"]
        with engine_for(forum.database_url).connect() as conn:
            state = conn.execute(
                text("SELECT state FROM jobs WHERE id = :id"), {"id": job_id}
            ).scalar()
        assert state == "queued"  # stored, and a worker will apply it

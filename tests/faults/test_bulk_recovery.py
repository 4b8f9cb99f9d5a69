"""A bulk import whose worker is killed mid-import: the sweeper recovers it on the bulk
queue, no item is applied twice and none is lost."""

import collections
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from devstack import servers
from forum.db import engine_for
from forum.models import Job, JobChunk, Topic
from tests.faults import harness

TOPICS = 3000


def progress(database_url: str, job_id: str) -> int:
    """Items with a recorded result."""
    with engine_for(database_url).connect() as conn:
        return (
            conn.execute(select(func.sum(JobChunk.count)).where(JobChunk.job_id == job_id)).scalar()
            or 0
        )


def post_import(base_url: str, token: str) -> httpx.Response:
    """The export of TOPICS topics as one bulk request, answered at once (202 with the job,
    or an error)."""
    return httpx.post(
        f"{base_url}/api/v2/bulk", content=harness.import_ndjson(TOPICS), timeout=60,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson",
                 "Prefer": "respond-async"},
    )  # fmt: skip


def test_bulk_worker_killed_mid_import(tmp_path: Path) -> None:
    with harness.fault_forum(tmp_path, topics=0) as forum:
        env = {**forum.env, "FORUMQ_BULK_QUEUE": f"{forum.env['FORUMQ_INTERACTIVE_QUEUE']}.bulk",
               "FORUMQ_BULK_CHUNK_SIZE": "100", "FORUMQ_BULK_STALE_AFTER_SECONDS": "3"}  # fmt: skip
        worker = servers.start_worker(env, tmp_path / "worker.log", own_group=True)
        with servers.running_api(env, tmp_path / "api.log") as base_url:
            response = post_import(base_url, forum.token)
            assert response.status_code == 202, response.text
            job_id = response.json()["payload"]["job_id"]
            servers.wait_until(lambda: progress(forum.database_url, job_id) > 300, 60, "import")
            servers.kill_group(worker)  # SIGKILL mid-import
            done_at_kill = progress(forum.database_url, job_id)
            assert done_at_kill < TOPICS + 2, "the import finished before the kill"
            time.sleep(1)
            replacement = servers.start_worker(env, tmp_path / "worker.log", own_group=True)
            try:
                servers.wait_until(
                    lambda: progress(forum.database_url, job_id) == TOPICS + 2, 120, "recovery"
                )
                job = httpx.get(
                    f"{base_url}/api/jobs/{job_id}", timeout=60,
                    headers={"Authorization": f"Bearer {forum.token}", "Prefer": "wait=30"},
                ).json()["payload"]  # fmt: skip
            finally:
                servers.kill_group(replacement)
        assert job["state"] == "succeeded"
        assert job["result"]["payload"] == {
            "job_id": job_id,
            "total": TOPICS + 2,
            "succeeded": TOPICS + 2,
            "failed": 0,
            "existing": 0,
        }
        assert b"re-published" in (tmp_path / "worker.log").read_bytes()
        with engine_for(forum.database_url).connect() as conn:
            titles = collections.Counter(
                conn.execute(
                    select(Topic.title).where(Topic.title.like("Imported topic %"))
                ).scalars()
            )
            kinds = dict(conn.execute(select(Job.kind, func.count()).group_by(Job.kind)).all())
        assert len(titles) == TOPICS and set(titles.values()) == {1}  # each once, none lost
        assert kinds == {"bulk.import": 1}
        print(f"\n[bulk] killed at {done_at_kill}/{TOPICS + 2} items; recovered, each applied once")


def test_bulk_import_with_the_broker_down_answers_503_and_stores_no_job(tmp_path: Path) -> None:
    with harness.fault_forum(tmp_path, topics=0) as forum:
        env = {**forum.env, "FORUMQ_BULK_QUEUE": f"{forum.env['FORUMQ_INTERACTIVE_QUEUE']}.bulk"}
        with servers.running_api(env, tmp_path / "api.log") as base_url:
            forum.redis.kill()
            response = post_import(base_url, forum.token)
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "service-unavailable"
            forum.redis.start()
        with engine_for(forum.database_url).connect() as conn:
            assert conn.execute(select(func.count()).select_from(Job)).scalar() == 0

"""A bulk item that kills its worker process, or raises, every time it is applied: it
fails alone with its reason, the rest of its import is applied once, and the job
finishes (before, its chunk was delivered again without end)."""

import collections
import math
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from devstack import servers
from forum.db import engine_for
from forum.models import Topic
from tests.faults import harness

TOPICS = 98
CHUNK = 8  # 13 chunks; the poison is alone after 3 halvings
MAX_ATTEMPTS = 3
POISON = 55  # a topic in the middle of a chunk
POISON_ID = f"t{POISON}"


TOO_MANY_ATTEMPTS = {"status": 500, "code": "internal-server-error",
                     "message": "too-many-attempts", "params": {}}  # fmt: skip
INTERNAL = {"status": 500, "code": "internal-server-error", "params": {},
            "message": "An unexpected error was encountered while attempting to service your "
                       "request."}  # fmt: skip


@pytest.mark.parametrize(("fault", "broker", "reason"), [
    ("exit", "redis", TOO_MANY_ATTEMPTS),
    ("exit", "sqlite", TOO_MANY_ATTEMPTS),  # the embedded broker flags no redelivery
    ("raise", "redis", INTERNAL),
])  # fmt: skip
def test_a_poison_item_fails_alone(
    tmp_path: Path, fault: str, broker: str, reason: dict[str, object]
) -> None:
    with harness.fault_forum(tmp_path, topics=0) as forum:
        env = {**forum.env, "FORUMQ_BULK_QUEUE": f"{forum.env['FORUMQ_INTERACTIVE_QUEUE']}.bulk",
               "FORUMQ_BULK_CHUNK_SIZE": str(CHUNK), "FORUMQ_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
               "FORUMQ_TEST_POISON": fault, "FORUMQ_TEST_POISON_ID": POISON_ID}  # fmt: skip
        if broker == "sqlite":
            env["FORUMQ_BROKER_URL"] = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
            env["FORUMQ_NOTIFY_URL"] = ""  # the API polls the jobs table
        log = tmp_path / "worker.log"
        worker = servers.start_worker(env, log, module="tests.faults.poison_worker", own_group=True)
        headers = {"Authorization": f"Bearer {forum.token}"}
        try:
            with servers.running_api(env, tmp_path / "api.log") as base_url:
                began = time.monotonic()
                response = httpx.post(
                    f"{base_url}/api/v2/bulk", content=harness.import_ndjson(TOPICS), timeout=60,
                    headers={**headers, "Content-Type": "application/x-ndjson",
                             "Prefer": "respond-async"},
                )  # fmt: skip
                assert response.status_code == 202, response.text
                job_id = response.json()["payload"]["job_id"]
                job: dict[str, object] = {}

                def finished() -> bool:
                    nonlocal job
                    job = httpx.get(
                        f"{base_url}/api/jobs/{job_id}", timeout=30,
                        headers={**headers, "Prefer": "wait=5"},
                    ).json()["payload"]  # fmt: skip
                    return job["state"] not in ("queued", "running")

                servers.wait_until(finished, 90, "the import to finish")
                took = time.monotonic() - began
                items = httpx.get(
                    f"{base_url}/api/jobs/{job_id}/items", params={"limit": 1000},
                    headers=headers, timeout=30,
                ).json()["payload"]["items"]  # fmt: skip
            assert worker.poll() is None, "the worker's main process survives its pool's deaths"
        finally:
            servers.kill_group(worker)
        total = TOPICS + 2
        assert job["state"] == "succeeded", job
        assert job["progress"] == {"done": total, "failed": 1, "existing": 0, "total": total}
        assert job["result"]["payload"] == {
            "job_id": job["id"],
            "total": total,
            "succeeded": total - 1,
            "failed": 1,
            "existing": 0,
        }  # type: ignore[index]
        assert [item["index"] for item in items] == list(range(total))
        failed = [item for item in items if item["state"] == "failed"]
        assert [item["external_id"] for item in failed] == [POISON_ID]
        assert failed[0]["error"] == reason
        assert {item["state"] for item in items if item is not failed[0]} == {"created"}
        with engine_for(forum.database_url).connect() as conn:
            titles = collections.Counter(conn.execute(select(Topic.title)).scalars())
        expected = {f"Imported topic {i}" for i in range(TOPICS) if i != POISON}
        assert set(titles) == expected and set(titles.values()) == {1}  # each once, none lost
        deaths = log.read_bytes().count(b"exited with 'exitcode 1'")
        if fault == "exit":  # once per halving, then MAX_ATTEMPTS times alone
            assert MAX_ATTEMPTS < deaths <= math.ceil(math.log2(CHUNK)) + MAX_ATTEMPTS
        else:
            assert deaths == 0
        print(f"\n[bulk poison: {fault}] finished in {took:.1f}s, {deaths} pool processes lost")

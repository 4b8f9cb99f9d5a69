"""A bulk request's memory in the API process (the real server, measured from
``/proc/<pid>/status``): an NDJSON body is parsed as it arrives and its packed chunks
wait in a file, so the process grows by a bounded amount, not by the body (it grew by
about 4.7 times this body before: 248 MB); and a body cut short leaves nothing."""

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis
from sqlalchemy import func, select

from devstack import databases, servers
from forum.models import Job, JobChunk
from tests.support import Stack, require_postgres

# About the 52.9 MB body the outside test sent: 10,000 items (the item limit) of ~5 KB.
ITEMS = 10_000
CONTENT_BYTES = 5_200
# The API process may grow by at most this much while it takes the body: a block of
# text and its items, a chunk being packed, and a chunk's message being published.
GROWTH_BOUND_MB = 45


@pytest.fixture(scope="module")
def memory_stack(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, int]]:
    """A stack of its own with the API's process id; no worker: the job stays queued,
    nothing but the API's intake is measured (and the machine is spared the import)."""
    require_postgres()
    tag = f"{os.getpid()}.{uuid.uuid4().hex[:6]}"
    with databases.fresh_database(prefix="forumq_memory") as url:
        env = {
            "FORUMQ_DATABASE_URL": url,
            "FORUMQ_BROKER_URL": redis_url,
            "FORUMQ_INTERACTIVE_QUEUE": f"forumq.test.{tag}",
            "FORUMQ_BULK_QUEUE": f"forumq.test.bulk.{tag}",
        }
        seed = databases.seed(url)
        log = Path(tmp_path_factory.mktemp("memory")) / "api.log"
        try:
            with servers.http_server(["-m", "forumq", "serve"], env, log) as (base, process):
                yield Stack(base, url, env, seed.admin_uid, seed.master_token,
                            seed.admin_token, seed.cid, log.parent), process.pid  # fmt: skip
        finally:  # the chunks published for no worker
            redis.Redis.from_url(redis_url).delete(env["FORUMQ_BULK_QUEUE"])


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def ndjson_body(prefix: str) -> Iterator[bytes]:
    """~53 MB of topics in text that zlib halves, sent as it is made (the client holds
    one line at a time)."""
    rng = random.Random(16)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
             for _ in range(5000)]  # fmt: skip
    for n in range(ITEMS):
        text = " ".join(rng.choices(words, k=CONTENT_BYTES // 6))[:CONTENT_BYTES]
        item = {"type": "topic", "external_id": f"{prefix}{n}", "cid": 1, "user": "nobody",
                "title": f"Topic {n}", "content": text}  # fmt: skip
        yield orjson.dumps(item) + b"\n"


def test_a_large_ndjson_body_grows_the_api_by_a_bounded_amount(
    memory_stack: tuple[Stack, int],
) -> None:
    stack, pid = memory_stack
    headers = {"Content-Type": "application/x-ndjson", "Prefer": "respond-async"}
    with stack.client(stack.admin_token) as client:
        warm = client.post("/api/v2/bulk", content=next(ndjson_body("w")), headers=headers)
        assert warm.status_code == 202, warm.text
        before = status_kb(pid, "VmRSS")
        sent = 0

        def body() -> Iterator[bytes]:
            nonlocal sent
            for line in ndjson_body("m"):
                sent += len(line)
                if sent % 5_000_000 < len(line):
                    print("sent", sent // 1_000_000, "rss", status_kb(pid, "VmRSS") // 1024)
                yield line
            print(
                "all sent; rss",
                status_kb(pid, "VmRSS") // 1024,
                "hwm",
                status_kb(pid, "VmHWM") // 1024,
            )

        answer = client.post("/api/v2/bulk", content=body(), headers=headers, timeout=300)
    peak = status_kb(pid, "VmHWM")
    assert answer.status_code == 202, answer.text
    growth_mb = (peak - before) / 1024
    print(f"body {sent / 1e6:.1f} MB: API RSS {before / 1024:.0f} MB, peak {peak / 1024:.0f} MB,"
          f" growth {growth_mb:.0f} MB")  # fmt: skip
    assert sent > 50e6
    with stack.session() as session:
        job = session.scalar(select(Job).where(Job.id == answer.json()["payload"]["job_id"]))
        assert job is not None and job.progress["total"] == ITEMS
    assert growth_mb < GROWTH_BOUND_MB


def jobs_and_chunks(stack: Stack) -> tuple[int, int]:
    with stack.session() as session:
        return (session.scalar(select(func.count()).select_from(Job)) or 0,
                session.scalar(select(func.count()).select_from(JobChunk)) or 0)  # fmt: skip


def test_a_body_cut_midway_leaves_no_job_or_chunk(memory_stack: tuple[Stack, int]) -> None:
    stack, _ = memory_stack
    before = jobs_and_chunks(stack)
    lines = ndjson_body("cut")
    part = b"".join(next(lines) for _ in range(2_000))  # ~10 MB of a declared 20 MB
    host, port = stack.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        head = (
            f"POST /api/v2/bulk HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {stack.admin_token}\r\n"
            f"Content-Type: application/x-ndjson\r\nContent-Length: {2 * len(part)}\r\n\r\n"
        )
        raw.sendall(head.encode() + part)  # fmt: skip
    # The API notices the closed connection; give it the time to drop the request.
    time.sleep(2)
    with httpx.Client(base_url=stack.base_url) as client:
        assert client.get("/api/health").status_code == 200
    assert jobs_and_chunks(stack) == before

"""A bulk request's memory in the API process (the real server, measured from
``/proc/<pid>/status``): an NDJSON or JSON array body is parsed as it arrives and its
packed chunks wait in a file, so the process grows by a bounded amount, not by the body
(it grew by about 4.7 times this body before: 248 MB); a retry with its Idempotency-Key
is only hashed; and a body cut short leaves nothing."""

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


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_large_body(
    stack: Stack, pid: int, body: Iterator[bytes], content_type: str, key: str | None = None
) -> tuple[httpx.Response, float, int]:
    """POST ``body`` to the bulk route as it is made; the answer, the API's RSS growth
    (MB, its peak while taking the body over its size before) and the bytes sent."""
    headers = {"Content-Type": content_type, "Prefer": "respond-async"}
    if key:
        headers["Idempotency-Key"] = key
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts again here
    before = status_kb(pid, "VmRSS")
    sent = 0

    def counted() -> Iterator[bytes]:
        nonlocal sent
        for piece in body:
            sent += len(piece)
            if sent % 5_000_000 < len(piece):
                print("sent", sent // 1_000_000, "rss", status_kb(pid, "VmRSS") // 1024)
            yield piece

    with stack.client(stack.admin_token) as client:
        answer = client.post("/api/v2/bulk", content=counted(), headers=headers, timeout=300)
    peak = status_kb(pid, "VmHWM")
    growth_mb = (peak - before) / 1024
    print(f"body {sent / 1e6:.1f} MB ({content_type}): API RSS {before / 1024:.0f} MB, "
          f"peak {peak / 1024:.0f} MB, growth {growth_mb:.0f} MB")  # fmt: skip
    return answer, growth_mb, sent


def warmed(stack: Stack) -> None:
    """One small import first: the route's modules and buffers are in place."""
    with stack.client(stack.admin_token) as client:
        warm = client.post("/api/v2/bulk", content=next(ndjson_body("w")),
                           headers={"Content-Type": "application/x-ndjson",
                                    "Prefer": "respond-async"})  # fmt: skip
        assert warm.status_code == 202, warm.text


def stored_total(stack: Stack, answer: httpx.Response) -> int:
    with stack.session() as session:
        job = session.scalar(select(Job).where(Job.id == answer.json()["payload"]["job_id"]))
        assert job is not None
        return int(job.progress["total"])


def test_a_large_ndjson_body_grows_the_api_by_a_bounded_amount(
    memory_stack: tuple[Stack, int],
) -> None:
    stack, pid = memory_stack
    warmed(stack)
    key = f"memory-{uuid.uuid4().hex}"
    cpu = cpu_seconds(pid)
    answer, growth_mb, sent = send_large_body(stack, pid, ndjson_body("m"),
                                              "application/x-ndjson", key)  # fmt: skip
    first_cpu = cpu_seconds(pid) - cpu
    assert answer.status_code == 202, answer.text
    assert sent > 50e6
    assert stored_total(stack, answer) == ITEMS
    assert growth_mb < GROWTH_BOUND_MB
    # A retry with the key is answered with the same job (409 while it is queued: no
    # worker here), the body only hashed: a small part of the first request's work
    # (each item parsed, checked and packed).
    cpu = cpu_seconds(pid)
    again, _, _ = send_large_body(stack, pid, ndjson_body("m"), "application/x-ndjson", key)
    replay_cpu = cpu_seconds(pid) - cpu
    print(f"API CPU: first {first_cpu:.2f} s, replay {replay_cpu:.2f} s")
    assert again.status_code == 409, again.text
    assert again.json()["params"]["job_id"] == answer.json()["payload"]["job_id"]
    assert replay_cpu < first_cpu / 2
    # The same key with another body is still refused, however cheaply it is read.
    other, _, _ = send_large_body(stack, pid, iter([next(ndjson_body("o"))]),
                                  "application/x-ndjson", key)  # fmt: skip
    assert other.status_code == 422, other.text


def json_array_body(prefix: str) -> Iterator[bytes]:
    """The NDJSON body's items as one JSON array, sent as it is made."""
    yield b"["
    for n, line in enumerate(ndjson_body(prefix)):
        yield (b"," if n else b"") + line.rstrip(b"\n")
    yield b"]"


def test_a_large_json_array_body_grows_the_api_by_a_bounded_amount(
    memory_stack: tuple[Stack, int],
) -> None:
    """A JSON array is split into its items as it arrives (``api.bulk.ArraySplitter``):
    the same bound as NDJSON (the whole array was parsed at once before)."""
    stack, pid = memory_stack
    warmed(stack)
    answer, growth_mb, sent = send_large_body(stack, pid, json_array_body("a"),
                                              "application/json")  # fmt: skip
    assert answer.status_code == 202, answer.text
    assert sent > 50e6
    assert stored_total(stack, answer) == ITEMS
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

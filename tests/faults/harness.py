"""What a fault test breaks and checks: its own redis-server, a TCP proxy in front of
PostgreSQL it can cut, a seeded forum on a database of its own (``fault_forum``), and
the counts each test ends with (``wait_for_jobs``, ``assert_exactly_once``). The
machine's own services are never touched."""

import asyncio
import collections
import contextlib
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import select, text

from devstack import databases, servers
from forum.db import engine_for
from forum.models import Post
from tests.support import require, require_postgres


class RedisServer:
    """A private, non-persistent redis-server on a free port."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            require(False, "redis-server binary")
        self.port = servers.free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        servers.wait_until(lambda: servers.port_open("127.0.0.1", self.port), 10, "redis-server")

    def kill(self) -> None:
        """Gone at once, with everything it held (no persistence)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.kill()
        self.start()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and
    refuses new ones until ``restore()``, like a network partition."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = servers.free_port()
        self._up = threading.Event()
        self._up.set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            doomed = list(self._sockets)
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()


def fault_env(database_url: str, broker_url: str) -> dict[str, str]:
    return {
        "FORUMQ_DATABASE_URL": database_url,
        "FORUMQ_BROKER_URL": broker_url,
        "FORUMQ_INTERACTIVE_QUEUE": f"forumq.fault.{uuid.uuid4().hex[:8]}",
        # Recover lost messages quickly, so the tests stay short.
        "FORUMQ_STALE_AFTER_SECONDS": "3",
        "FORUMQ_SWEEP_INTERVAL_SECONDS": "1",
        "FORUMQ_TOKEN_CACHE_SECONDS": "60",
    }


async def send_replies(
    base_url: str, token: str, tids: list[int], count: int, tag: str,
    concurrency: int = 32, on_progress=None,  # type: ignore[no-untyped-def]
) -> dict[str, int]:  # fmt: skip
    """POST ``count`` async replies spread over ``tids``; returns {content: status}."""
    statuses: dict[str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {token}", "Prefer": "respond-async"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:

        async def sender() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                content = f"{tag} reply number {i}"
                try:
                    response = await client.post(
                        f"/api/v1/topics/{tids[i % len(tids)]}", json={"content": content}
                    )
                    statuses[content] = response.status_code
                except httpx.HTTPError:
                    statuses[content] = 0
                if on_progress:
                    on_progress(len(statuses))

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return statuses


def wait_for_jobs(database_url: str, expected: int, timeout: float) -> None:
    """Until ``expected`` jobs are finished (or fail the test with the counts)."""
    engine = engine_for(database_url)
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), engine.connect() as conn:
            counts = dict(
                conn.execute(text("SELECT state, count(*) FROM jobs GROUP BY state")).all()
            )  # type: ignore[arg-type]
            if counts.get("succeeded", 0) + counts.get("failed", 0) >= expected and not (
                counts.get("queued") or counts.get("running")
            ):
                return
        time.sleep(0.5)
    pytest.fail(f"jobs not finished after {timeout}s: {counts}")


def assert_exactly_once(database_url: str, statuses: dict[str, int], tag: str) -> int:
    """Every acknowledged (202) reply is stored once; nothing else with the tag is."""
    acknowledged = {content for content, status in statuses.items() if status == 202}
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(select(Post.content).where(Post.content.like(f"{tag} %"))).scalars()
        stored = collections.Counter(rows)
    duplicates = {content: n for content, n in stored.items() if n > 1}
    assert not duplicates, f"applied twice: {list(duplicates)[:5]}"
    missing = acknowledged - set(stored)
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:3]}"
    # A write answered 503 was never stored as a job, so it is not applied either.
    refused = {content for content, status in statuses.items() if status != 202}
    assert not refused & set(stored), "a refused write was applied"
    print(f"\n[{tag}] sent {len(statuses)}, acknowledged {len(acknowledged)}, "
          f"refused {len(refused)}, stored {sum(stored.values())}, duplicates 0")  # fmt: skip
    return len(acknowledged)


@dataclass
class FaultForum:
    """A seeded forum on its own database and its own Redis, for one fault test."""

    database_url: str
    token: str
    tids: list[int]
    env: dict[str, str]
    redis: RedisServer


@contextlib.contextmanager
def fault_forum(tmp_path: Path, topics: int = 10, db_port: int = 5432) -> Iterator[FaultForum]:
    require_postgres()
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with databases.fresh_database(prefix="forumq_fault", port=db_port) as database_url:
            seed = databases.seed(database_url, topics)
            env = fault_env(database_url, redis.url)
            yield FaultForum(database_url, seed.admin_token, seed.tids, env, redis)
    finally:
        redis.kill()


def import_ndjson(topics: int) -> bytes:
    """An export to import: one user, one category and ``topics`` topics (external ids
    ``u1``, ``c1``, ``t0``...), as NDJSON."""
    items: list[dict[str, object]] = [
        {"type": "user", "external_id": "u1", "username": "importer",
         "timestamp": 1_400_000_000_000},
        {"type": "category", "external_id": "c1", "name": "Imported"},
    ]  # fmt: skip
    items += [
        {"type": "topic", "external_id": f"t{i}", "category": "c1", "user": "u1",
         "title": f"Imported topic {i}", "content": f"Imported content {i}",
         "timestamp": 1_500_000_000_000 + i}
        for i in range(topics)
    ]  # fmt: skip
    return b"\n".join(orjson.dumps(item) for item in items)

"""The real stack a benchmark runs against: a fresh PostgreSQL database, Redis, and
``python -m forumq serve`` / ``worker`` processes, all started and removed here."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis

from tests.servers import descendants, free_port, pg_dsn, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
CONTENT = "A benchmark reply, long enough to pass the length rule."


@dataclass
class Seed:
    admin_uid: int
    token: str
    cid: int
    tids: list[int]


@contextmanager
def fresh_database(admin_url: str, keep: bool = False) -> Iterator[str]:
    """A new, migrated database ``forumq_bench_<random>`` on admin_url's server, dropped
    after unless ``keep``."""
    from forum.db import engine_for
    from forum.migrate import upgrade

    name = f"forumq_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        engine_for(url).dispose()
        if keep:
            print(f"kept database {url}", flush=True)
        else:
            with psycopg.connect(pg_dsn(admin_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(database_url: str, topics: int) -> Seed:
    """An admin with its own bearer token, a category, and ``topics`` topics to reply to."""
    from forum import tokens
    from forum.categories import create_category
    from forum.db import transaction
    from forum.topics import create_topic
    from forum.users import create_user

    with transaction(database_url) as session:
        admin = create_user(session, None, f"bench-{uuid.uuid4().hex[:6]}", password="password1",
                            admin=True)  # fmt: skip
        token = tokens.issue_user_token(session, admin.uid)
        cid = create_category(session, None, "Benchmarks").cid
        tids = [
            int(
                create_topic(session, admin.uid, cid, f"Bench topic {i}", CONTENT)["topicData"][
                    "tid"
                ]
            )
            for i in range(topics)
        ]
        return Seed(admin.uid, token, cid, tids)


def purge_queue(redis_url: str, name: str) -> None:
    """Drop a run's queues, messages and kombu bindings: every key containing ``name``
    (a queue name, or the random id a run puts in all its queue names)."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{name}*"))
    if keys:
        client.delete(*keys)


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python ARGV`` in its own process group, output appended to ``log``."""
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, *argv],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=str(log.parent),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


@contextmanager
def http_server(argv: list[str], env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """Start an HTTP server given ``--port`` (appended) and yield (base URL, pid)."""
    port = free_port()
    process = start([*argv, "--port", str(port)], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/health").status_code == 200, 60, argv[1])
        yield base, process.pid
    finally:
        stop(process)


@contextmanager
def celery_worker(
    env: dict[str, str],
    log: Path,
    concurrency: int | None = None,
    pool: str | None = None,
    argv: list[str] | None = None,
) -> Iterator[int]:
    """``python -m forumq worker`` (``--concurrency``/``--pool`` when given, else its
    defaults; or ``argv``), yielded (its pid) once ready."""
    log.write_bytes(b"")
    if argv is None:
        argv = ["-m", "forumq", "worker"]
        argv += [f"--concurrency={concurrency}"] if concurrency else []
        argv += [f"--pool={pool}"] if pool else []
    process = start(argv, env, log)
    try:
        wait_until(lambda: b"ready." in log.read_bytes(), 90, "celery worker")
        yield process.pid
    finally:
        stop(process)


# --- the machine ------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu_ticks() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]), idle


def _ticks(pid: int) -> int:
    """CPU ticks used so far by ``pid`` and its finished, reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime


def _family(pids: list[int]) -> list[int]:
    """``pids`` and every live process below them."""
    return [*pids, *descendants(pids)]


def _redis_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("redis-server"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class Machine:
    """How busy the machine was during a measurement, and who used it: this benchmark's
    processes, the services serving it (its database's PostgreSQL backends and Redis, which
    other users of the servers may share), and everything else. With ``server``, also the
    share of that process (and its children) alone: near 100% means it is CPU-bound."""

    def __init__(
        self, our_pids: list[int], admin_url: str, database: str, server: int | None = None
    ) -> None:
        self._our_pids = our_pids
        self._admin_url = admin_url
        self._database = database
        self._server = server
        self.server = 0.0

    def _service_pids(self) -> list[int]:
        with psycopg.connect(pg_dsn(self._admin_url), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self._database,)
            ).fetchall()
        return [row[0] for row in rows] + _redis_pids()

    def _snapshot(self) -> tuple[dict[int, int], dict[int, int]]:
        ours = {pid: _ticks(pid) for pid in _family([os.getpid(), *self._our_pids])}
        services = {pid: _ticks(pid) for pid in self._service_pids()}
        return ours, services

    def __enter__(self) -> "Machine":
        self.load_before = loadavg()
        self._ours, self._services = self._snapshot()
        self._total, self._idle = _cpu_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        total, idle = _cpu_ticks()
        ours, services = self._snapshot()
        elapsed = max(1, total - self._total)

        def share(after: dict[int, int], before: dict[int, int]) -> float:
            used = sum(ticks - before.get(pid, 0) for pid, ticks in after.items())
            return 100 * max(0, used) / elapsed * (os.cpu_count() or 1)

        self.busy = 100 * (1 - (idle - self._idle) / elapsed) * (os.cpu_count() or 1)
        self.ours = share(ours, self._ours)
        self.services = share(services, self._services)
        self.others = max(0.0, self.busy - self.ours - self.services)
        if self._server is not None:
            tree = set(_family([self._server]))
            self.server = share(
                {pid: t for pid, t in ours.items() if pid in tree},
                {pid: t for pid, t in self._ours.items() if pid in tree},
            )
        self.load_after = loadavg()

    def describe(self) -> str:
        cores = os.cpu_count() or 1
        server = f" (server under test {self.server:.0f}%)" if self._server is not None else ""
        return (f"load {self.load_before} -> {self.load_after}; CPU {self.busy:.0f}% of "
                f"{cores * 100}% busy: bench {self.ours:.0f}%{server}, PG+Redis "
                f"{self.services:.0f}%, other {self.others:.0f}%")  # fmt: skip


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


class RoleCPU:
    """CPU milliseconds each role used over a phase, from /proc: ``roles`` maps a name
    (API, worker, ...) to root pids, counted with every process below them; with
    ``database``, "postgres" is that database's backends (pg_stat_activity, the union of
    both snapshots; the server's background writers are not counted) and "redis" the
    redis-server processes."""

    def __init__(
        self, roles: dict[str, list[int]], admin_url: str | None = None,
        database: str | None = None,
    ) -> None:  # fmt: skip
        self._roles = roles
        self._admin_url, self._database = admin_url, database
        self.ms: dict[str, float] = {}

    def _pids(self) -> dict[str, set[int]]:
        pids = {role: set(_family(roots)) for role, roots in self._roles.items()}
        if self._database and self._admin_url:
            with psycopg.connect(pg_dsn(self._admin_url), autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self._database,)
                ).fetchall()
            pids["postgres"] = {row[0] for row in rows}
            pids["redis"] = set(_redis_pids())
        return pids

    def __enter__(self) -> "RoleCPU":
        self._before = {role: {pid: _ticks(pid) for pid in pids}
                        for role, pids in self._pids().items()}  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        for role, pids in self._pids().items():
            before = self._before.get(role, {})
            used = sum(_ticks(pid) - before.get(pid, 0) for pid in pids)
            self.ms[role] = max(0, used) * TICK_MS

    def per(self, count: int) -> dict[str, float]:
        return {role: ms / max(1, count) for role, ms in self.ms.items()}

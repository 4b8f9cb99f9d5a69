"""The real stack a benchmark runs against (a fresh PostgreSQL database, Redis, and
``python -m forumq serve`` / ``worker`` processes, from ``devstack``), and how busy the
machine was while it ran."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from devstack import servers
from devstack.databases import pg_dsn
from devstack.servers import descendants, running_worker

CONTENT = "A benchmark reply, long enough to pass the length rule."


@contextmanager
def celery_worker(
    env: dict[str, str], log: Path, concurrency: int, pool: str = "prefork"
) -> Iterator[int]:
    """``python -m forumq worker --concurrency=N --pool=P``, yielded (its pid) once ready."""
    with running_worker(env, log, concurrency, pool=pool) as worker:
        yield worker.pid


@contextmanager
def started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[int]:
    """``python ARGV`` (a Celery worker: ``forumq worker`` with its defaults, or another
    app's), yielded (its pid) once it logs "ready."."""
    process = servers.start(argv, env, log)
    try:
        servers.wait_until(lambda: b"ready." in log.read_bytes(), 90, " ".join(argv))
        yield process.pid
    finally:
        servers.stop(process)


@contextmanager
def http_server(argv: list[str], env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """Start an HTTP server given ``--port`` (appended) and yield (base URL, pid)."""
    with servers.http_server(argv, env, log) as (base, process):
        yield base, process.pid


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


def cpu_ms(pids: list[int], *, family: bool = True) -> float:
    """CPU milliseconds used so far by ``pids`` and their reaped children, and with
    ``family`` every live process below them."""
    every = _family(pids) if family else pids
    return sum(_ticks(pid) for pid in every) * 1000 / os.sysconf("SC_CLK_TCK")


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

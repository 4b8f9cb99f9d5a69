"""Processes of a local forumq: start ``python -m ...`` with its output in a log, wait
until it serves, stop it, and find what it left running."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CHECKOUT = Path(__file__).resolve().parent.parent  # holds devstack, tests and bench


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout}s")


def start(
    argv: list[str], env: dict[str, str], log: Path, *, own_group: bool = False
) -> subprocess.Popen[bytes]:
    """``python ARGV``, output appended to ``log``. The checkout is on its path, so
    ``-m tests...`` or ``-m bench...`` entry points import however the caller was started.

    It stays in the caller's process group (stopping the caller's group stops it too)
    unless ``own_group``: then ``kill_group`` ends it with its children, and nothing else."""
    path = os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, *argv],
            env={**os.environ, **env, "PYTHONPATH": path},
            cwd=str(log.parent),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """``sig`` to a process started with ``own_group`` and every child in its group
    (SIGKILL: gone at once)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(30)


def descendants(pids: list[int]) -> set[int]:
    """Every live process below ``pids`` (from /proc; no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    pending = list(pids)
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def start_worker(
    env: dict[str, str], log: Path, concurrency: int = 2, *, pool: str | None = None,
    module: str = "forumq", own_group: bool = False,
) -> subprocess.Popen[bytes]:  # fmt: skip
    """``python -m MODULE worker``, returned once Celery logs "ready." (``module``:
    forumq's CLI, or a test's own entry point; ``own_group``: as for ``start``)."""
    # Without mingle (it waits a second for replies from other workers at start) and
    # gossip: the workers of other runs that share the broker are no neighbours of this one.
    argv = ["-m", module, "worker", f"--concurrency={concurrency}", "--without-mingle",
            "--without-gossip"]  # fmt: skip
    if pool:
        argv.append(f"--pool={pool}")
    offset = log.stat().st_size if log.exists() else 0
    process = start(argv, env, log, own_group=own_group)
    try:
        wait_until(lambda: b"ready." in log.read_bytes()[offset:], 90, "celery worker")
    except TimeoutError:
        stop(process)
        raise
    return process


@contextmanager
def running_worker(
    env: dict[str, str], log: Path, concurrency: int = 2, *, pool: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    worker = start_worker(env, log, concurrency, pool=pool)
    try:
        yield worker
    finally:
        stop(worker)


@contextmanager
def http_server(
    argv: list[str], env: dict[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python ARGV --port P`` on a free port, yielded as (base URL, process) once its
    ``/api/health`` answers 200."""
    port = free_port()
    process = start([*argv, "--port", str(port)], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/health").status_code == 200, 60, argv[-1])
        yield base, process
    finally:
        stop(process)


@contextmanager
def running_api(env: dict[str, str], log: Path) -> Iterator[str]:
    """``python -m forumq serve``, yielded as its base URL."""
    with http_server(["-m", "forumq", "serve"], env, log) as (base, _process):
        yield base

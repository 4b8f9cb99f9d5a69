"""Real servers for the tests: find them, or fail in CI / skip on a laptop."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PG_ADMIN_URL = os.environ.get("FORUMQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FORUMQ_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
# The API contract (route tables, NodeBB's OpenAPI documents), beside the checkout.
SPEC_DIR = Path(os.environ.get("FORUMQ_SPEC_DIR", ROOT.parent / "shared" / "spec"))


def pg_dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg's connection string."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, what: str) -> None:
    """A missing server fails the run in CI and skips the test elsewhere."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} is not reachable, and CI must not skip it")
    pytest.skip(f"{what} is not reachable")


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


def forumq(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m forumq ARGS`` as its own process, output to ``log``."""
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "forumq", *args],
        env={**os.environ, **env},
        cwd=str(log.parent),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


@contextmanager
def running_worker(
    env: dict[str, str], log: Path, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    worker = forumq("worker", *extra, env=env, log=log)
    try:
        wait_until(lambda: b"ready." in log.read_bytes(), 60, "celery worker")
        yield worker
    finally:
        stop(worker)


@contextmanager
def running_api(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    api = forumq("serve", "--port", str(port), env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/health").status_code == 200, 60, "API")
        yield base
    finally:
        stop(api)

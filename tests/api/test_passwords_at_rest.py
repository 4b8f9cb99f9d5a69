"""No password in clear anywhere a run leaves it: every route that carries one (bulk
``user`` items, user creation, password change, password -> token) hashes it in the
API, so the job rows, the broker's messages and the logs never hold the plaintext."""

import base64
import contextlib
import re
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import redis
from sqlalchemy import text

from forum.models import User
from forum.passwords import verify_password
from tests.support import Stack


@contextmanager
def broker_traffic(stack: Stack) -> Iterator[list[bytes]]:
    """What reaches the broker meanwhile: Redis MONITOR, or the SQLite broker's file."""
    seen: list[bytes] = []
    broker = stack.env["FORUMQ_BROKER_URL"]
    if not broker.startswith("redis://"):
        yield seen
        # Delivered messages are deleted, but their bytes stay in the write-ahead log
        # and in free pages: the plaintext would be found there.
        path = broker.removeprefix("sqla+sqlite:///")
        seen.extend(Path(name).read_bytes() for name in (path, f"{path}-wal")
                    if Path(name).exists())  # fmt: skip
        return
    stop = threading.Event()
    connection = redis.Redis.from_url(broker)

    def watch() -> None:
        with connection.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                seen.append(str(command.get("command", "")).encode())
                if stop.is_set():
                    return

    ready = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    try:
        yield seen
    finally:
        stop.set()
        connection.ping()  # one more command wakes the watcher up
        watcher.join(10)


# Bulk items travel and are stored packed (forum.bulk.jobs.pack: zlib, then base64).
BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{40,}={0,2}")


def readable(blob: bytes) -> bytes:
    """``blob`` and whatever is packed inside it, unpacked (as a grep should see it)."""
    found = [blob]
    for run in BASE64_RUN.findall(blob):
        with contextlib.suppress(ValueError, zlib.error):
            found.append(zlib.decompress(base64.b64decode(run + b"=" * (-len(run) % 4))))
    return b"\n".join(found)


def dump_jobs(stack: Stack, since: int) -> bytes:
    with stack.session() as session:
        jobs = session.execute(text("SELECT * FROM jobs WHERE created_at >= :t"), {"t": since})
        chunks = session.execute(text("SELECT results FROM job_chunks"))
        results = [zlib.decompress(bytes(row[0])) for row in chunks]
        return repr([tuple(row) for row in jobs]).encode() + b"\n".join(results)


def test_no_password_in_jobs_broker_or_logs(any_stack: Stack) -> None:
    p = uuid.uuid4().hex[:8]
    secrets = {name: f"{name}-{uuid.uuid4().hex}" for name in ("array", "ndjson", "create",
                                                               "changed")}  # fmt: skip
    items = [{"type": "user", "external_id": f"{p}a", "username": f"{p}a",
              "password": secrets["array"]}]  # fmt: skip
    line = {"type": "user", "external_id": f"{p}n", "username": f"{p}n",
            "password": secrets["ndjson"]}  # fmt: skip
    admin = any_stack.client(any_stack.admin_token, Prefer="wait=30")
    with admin as client, broker_traffic(any_stack) as traffic:
        since = int(time.time() * 1000) - 1000
        as_array = client.post("/api/v2/bulk", json=items)
        as_ndjson = client.post("/api/v2/bulk", content=orjson.dumps(line) + b"\n",
                                headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
        created = client.post("/api/v1/users", json={"username": f"{p}c",
                                                     "password": secrets["create"]})  # fmt: skip
        uid = created.json()["payload"]["uid"]
        changed = client.put(f"/api/v2/users/{uid}/password", json={"new": secrets["changed"]})
    with any_stack.client() as client:
        token = client.post(f"/api/v1/users/{uid}/tokens", json={"password": secrets["changed"]})
    for answer in (as_array, as_ndjson, created, changed, token):
        assert answer.status_code == 200, answer.text
    with any_stack.session() as session:
        stored = {u.username: u.password_hash for u in session.query(User).filter(
            User.username.in_([f"{p}a", f"{p}n", f"{p}c"]))}  # fmt: skip
    assert verify_password(secrets["array"], stored[f"{p}a"])
    assert verify_password(secrets["ndjson"], stored[f"{p}n"])
    assert verify_password(secrets["changed"], stored[f"{p}c"])
    places = {
        "jobs": readable(dump_jobs(any_stack, since)),
        "broker": readable(b"\n".join(traffic)),
        "logs": b"".join(path.read_bytes() for path in any_stack.log_dir.glob("*.log")),
    }
    assert places["broker"], "the broker's traffic was not seen"
    leaks = [(where, name) for where, seen in places.items()
             for name, secret in secrets.items() if secret.encode() in seen]  # fmt: skip
    assert leaks == []


def test_a_bulk_user_with_a_short_password_fails_alone(stack: Stack) -> None:
    """Checked where it is hashed (the API), with the rule single writes use."""
    p = uuid.uuid4().hex[:8]
    items = [{"type": "user", "external_id": f"{p}s", "username": f"{p}s", "password": "abc"},
             {"type": "user", "external_id": f"{p}k", "username": f"{p}k"}]  # fmt: skip
    with stack.client(stack.admin_token) as client:
        accepted = client.post("/api/v2/bulk", json=items, headers={"Prefer": "respond-async"})
        job_id = accepted.json()["payload"]["job_id"]
        job = client.get(f"/api/jobs/{job_id}", headers={"Prefer": "wait=30"}).json()["payload"]
        views = client.get(f"/api/jobs/{job_id}/items").json()["payload"]["items"]
    assert job["result"]["payload"] == {
        "job_id": job["id"],
        "total": 2,
        "succeeded": 1,
        "failed": 1,
        "existing": 0,
    }
    assert views[0]["state"] == "failed" and views[0]["external_id"] == f"{p}s"
    assert views[0]["error"]["message"] == "password-too-short"
    assert views[1]["state"] == "created"

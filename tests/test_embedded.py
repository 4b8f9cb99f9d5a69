"""``forumq up`` as the README runs it: no configuration, files in the current directory,
API and worker together, Ctrl-C stops everything, and a restart keeps data and queue."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devstack import servers

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.M)
CONTENT = "Embedded content, long enough"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@contextmanager
def forumq_up(home: Path, port: int, *, group_sigint: bool) -> Iterator[tuple[str, Path]]:
    """Run ``forumq up`` in ``home``; stop it with Ctrl-C and check nothing is left."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUMQ_")}
    out = home / f"up-{port}.out"
    with out.open("wb") as stdout, (home / f"up-{port}.err").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "forumq", "up", "--port", str(port)],
            cwd=home, env=env, stdout=stdout, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        servers.wait_until(lambda: httpx.get(f"{base}/api/health").status_code == 200, 60, "up")
        yield base, out
        family = servers.descendants([process.pid])
        assert family, "forumq up runs the API and the worker as child processes"
        if group_sigint:  # Ctrl-C in a terminal signals the whole foreground group
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGINT)
        assert process.wait(40) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in family if _alive(pid)], "orphaned processes"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_up_serves_stops_and_restarts(tmp_path: Path) -> None:
    with forumq_up(tmp_path, servers.free_port(), group_sigint=False) as (base, out):
        printed = UUID.findall(out.read_text())
        assert len(printed) == 1, out.read_text()
        token = printed[0]
        headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=30"}
        with httpx.Client(base_url=base, headers=headers, timeout=40) as client:
            category = client.post("/api/v1/categories", json={"name": "General", "_uid": 1})
            assert category.status_code == 200, category.text
            cid = category.json()["payload"]["cid"]
            created = client.post(
                "/api/v1/topics",
                data={"title": "Embedded", "content": CONTENT, "cid": cid, "_uid": 1},
            )
            assert created.status_code == 200, created.text
            tid = created.json()["payload"]["topicData"]["tid"]
            # Accepted just before Ctrl-C: it must be applied, now or after the restart.
            late = client.post(
                f"/api/v1/topics/{tid}",
                json={"content": CONTENT, "_uid": 1},
                headers={"Prefer": "respond-async"},
            )
            assert late.status_code == 202, late.text
            job_id = late.json()["payload"]["job_id"]
    assert (tmp_path / "forumq.sqlite3").exists()

    with forumq_up(tmp_path, servers.free_port(), group_sigint=True) as (base, out):
        assert UUID.findall(out.read_text()) == []  # no second admin, no new token
        headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=30"}
        with httpx.Client(base_url=base, headers=headers, timeout=40) as client:
            job = client.get(f"/api/jobs/{job_id}", params={"_uid": 1}).json()["payload"]
            assert job["state"] == "succeeded", job
            reply = client.post(f"/api/v1/topics/{tid}", json={"content": CONTENT, "_uid": 1})
            assert reply.status_code == 200, reply.text
            assert reply.json()["payload"]["index"] == 2  # the topic kept its two posts

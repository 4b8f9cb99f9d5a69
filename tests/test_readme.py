"""The README's examples, run as written against ``forumq up`` in an empty directory."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from devstack import servers

README = Path(__file__).resolve().parent.parent / "README.md"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.M)
EXPORT = [
    {"type": "user", "external_id": "u1", "username": "imported"},
    {"type": "category", "external_id": "c1", "name": "Imported"},
    {"type": "topic", "external_id": "t1", "category": "c1", "user": "u1",
     "title": "Imported topic", "content": "Imported content, long enough"},
    {"type": "reply", "external_id": "r1", "topic": "t1", "user": "u1",
     "content": "An imported reply, long enough"},
]  # fmt: skip


def commands(section: str) -> list[str]:
    """The commands of the first ``sh`` block under ``section`` (a heading line)."""
    text = README.read_text()
    block = text[text.index(f"\n{section}\n") :].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_quick_start_and_import_work_as_written(tmp_path: Path) -> None:
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUMQ_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # `forumq` as installed
    with (tmp_path / "up.out").open("wb") as out, (tmp_path / "up.err").open("wb") as errors:
        up = subprocess.Popen(["forumq", "up", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=out, stderr=errors, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        said = tmp_path / "up.err"
        servers.wait_until(lambda: "forumq is up" in said.read_text(), 90, "forumq up")
        assert httpx.get(f"{base}/api/ready").status_code == 200
        env["TOKEN"] = UUID.findall((tmp_path / "up.out").read_text())[0]

        quick = commands("## Quick start")
        assert quick[0].startswith("TOKEN=")  # set above, from what `forumq up` printed
        answers = []
        for command in quick[1:]:
            done = run(command.replace(":4567", f":{port}"), tmp_path, env)
            assert done.returncode == 0, done.stderr
            answers.append(orjson.loads(done.stdout))
        assert [answer["code"] for answer in answers] == ["ok"] * len(answers), answers
        assert answers[2]["payload"]["index"] == 1  # the reply is the topic's second post
        assert answers[3]["payload"]["uid"] == 2
        alice = httpx.post(
            f"{base}/api/v1/ping",
            headers={"Authorization": f"Bearer {answers[4]['payload']['token']}"},
        )
        assert alice.status_code == 200 and alice.json()["params"] == {"uid": 2}  # fmt: skip

        (tmp_path / "forum.ndjson").write_bytes(b"\n".join(map(orjson.dumps, EXPORT)) + b"\n")
        over_http, direct = commands("### Bulk import")
        imported = run(over_http.replace(":4567", f":{port}"), tmp_path, env)
        assert imported.returncode == 0, imported.stderr
        assert "4 items (0 already existed), 0 failed" in imported.stderr
        again = run(direct, tmp_path, env)  # the same file, straight into the database
        assert again.returncode == 0, again.stderr
        assert "4 items (4 already existed), 0 failed" in again.stderr
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
    assert up.returncode == 0, (tmp_path / "up.err").read_text()


def test_the_readme_is_short_and_ci_runs_its_test_command() -> None:
    """At most 220 lines (details live in docs/); ``.ci/run`` ends with exactly the
    README's test command, so CI runs what a new user runs."""
    assert len(README.read_text().splitlines()) <= 220
    test_command = next(
        line.split("#")[0].strip() for line in commands("## Two commands") if "test" in line
    )
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    assert [line for line in ci if line and not line.startswith("#")][-1] == test_command

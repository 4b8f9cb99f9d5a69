"""Operators' view: /metrics counts accepted jobs and shows the backlog; /api/health."""

from pathlib import Path

import httpx
import orjson

from devstack import databases, servers
from forum.migrate import upgrade
from tests.support import Stack, unique


def test_metrics_and_health(stack: Stack) -> None:
    with stack.client(stack.admin_token) as client:
        client.post(
            "/api/v1/topics",
            json={"title": "Measured", "content": "Counted by metrics", "cid": stack.cid},
        )
        metrics = client.get("/metrics")
        health = client.get("/api/health")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'forumq_jobs_accepted_total{kind="topics.create"}' in text
    assert 'forumq_jobs_unfinished{state="queued"}' in text
    assert "forumq_accept_group_size_count" in text
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_workers_count_log_and_time_the_jobs_they_finish(tmp_path: Path) -> None:
    """A prefork worker (two pool processes) serves the sum of its processes' metrics;
    a failed job is one log line with its id, kind, error, actor and the id of the API
    request that stored it (as is a bulk job's chunk)."""
    database_url = f"sqlite:///{tmp_path / 'forumq.sqlite3'}"
    upgrade(database_url)
    seed = databases.seed(database_url)
    env = {
        "FORUMQ_DATABASE_URL": database_url,
        "FORUMQ_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
    }
    port, log = servers.free_port(), tmp_path / "worker.log"
    worker = servers.start(
        ["-m", "forumq", "worker", "--concurrency=2", f"--metrics-port={port}"],
        {**env, "FORUMQ_LOG_FORMAT": "json"}, log,
    )  # fmt: skip
    try:
        servers.wait_until(lambda: b"ready." in log.read_bytes(), 90, "celery worker")
        with servers.running_api(env, tmp_path / "api.log") as base_url:
            headers = {"Authorization": f"Bearer {seed.admin_token}", "Prefer": "wait=30",
                       "X-Request-ID": "req-42"}  # fmt: skip
            with httpx.Client(base_url=base_url, headers=headers, timeout=40) as client:
                answers = [
                    client.post("/api/v1/topics", json={"title": f"Counted {n}", "cid": seed.cid,
                                                        "content": "Long enough content"})
                    for n in range(2)
                ] + [client.post("/api/v1/topics/987654", json={"content": "A reply, long enough"},
                                 headers={"Prefer": "respond-async"})]  # fmt: skip
                job_id = answers[2].json()["payload"]["job_id"]
                failed = client.get(f"/api/jobs/{job_id}").json()["payload"]  # waits
                imported = client.post(
                    "/api/v2/bulk", json=[{"type": "user", "external_id": "logged",
                                           "username": unique("logged")}],
                    headers={"X-Request-ID": "req-bulk"},
                )  # fmt: skip
                bulk_id = imported.json()["payload"]["job_id"]
                backlog = client.get("/metrics").text
        worker_metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        servers.stop(worker)
    assert [a.status_code for a in answers] == [200, 200, 202]
    assert imported.status_code == 200, imported.text
    assert {a.headers["x-request-id"] for a in answers} == {"req-42"}
    assert failed["state"] == "failed"
    samples = parse(worker_metrics)
    queue = "forumq.writes"
    assert samples[f'forumq_jobs_applied_total{{kind="topics.create",queue="{queue}"}}'] == 2
    labels = f'error="no-topic",kind="topics.reply",queue="{queue}"'
    assert samples[f"forumq_jobs_failed_total{{{labels}}}"] == 1
    assert samples[f'forumq_job_latency_seconds_count{{queue="{queue}"}}'] == 3
    assert samples[f'forumq_batch_jobs_sum{{queue="{queue}"}}'] == 3
    assert samples[f'forumq_apply_seconds_count{{queue="{queue}"}}'] >= 1
    assert parse(backlog)[f'forumq_oldest_unfinished_job_age_seconds{{queue="{queue}"}}'] == 0
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    mine = [line for line in lines if line.get("job_id") == job_id]
    assert len(mine) == 1, lines  # FORUMQ_LOG_FORMAT=json: one object per line
    assert mine[0]["message"] == (
        f"job {job_id} failed: no-topic (kind topics.reply, actor {seed.admin_uid}, request req-42)"
    )
    assert mine[0]["request_id"] == "req-42"
    assert mine[0]["level"] == "WARNING" and mine[0]["logger"] == "forumq.jobs"
    assert (mine[0]["kind"], mine[0]["error"], mine[0]["actor_uid"]) == (
        "topics.reply", "no-topic", seed.admin_uid,
    )  # fmt: skip
    batches = [line for line in lines if job_id in line.get("job_ids", [])]
    assert batches and batches[0]["message"].startswith(
        f"batch on {queue}: 1 jobs, 1 failed (no-topic 1)"
    )
    chunk = [line for line in lines if line.get("job_id") == bulk_id]
    assert chunk and {line["request_id"] for line in chunk} == {"req-bulk"}, lines


def parse(exposition: str) -> dict[str, float]:
    """``name{labels} value`` lines of a Prometheus exposition, by ``name{labels}``."""
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples

"""``GET /api/jobs/{id}``: a job's state and final answer, for its actor or an admin
(contract README, "Asynchronous acknowledgement")."""

import re
import time
import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from devstack.databases import pg_dsn
from forum.models import Job, Topic
from tests.support import Stack, new_topic, unique, user_with_token

NOT_FOUND = {"code": "not-found", "message": "Invalid API call", "params": {}}
CONTENT = "Content that is long enough"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = {"id", "state", "kind", "created_at", "started_at", "finished_at", "attempts", "result",
          "error"}  # fmt: skip


@pytest.fixture(scope="module")
def member(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


def _submit(stack: Stack, token: str, body: dict[str, Any], router: str = "v1") -> str:
    with stack.client(token, Prefer="respond-async") as client:
        response = client.post(f"/api/{router}/topics", json=body)
    assert response.status_code == 202, response.text
    payload = response.json()["payload"]
    assert response.headers["location"] == f"/api/jobs/{payload['job_id']}"
    assert payload["state"] in ("queued", "running", "succeeded")
    return payload["job_id"]


def _get(stack: Stack, token: str, job_id: str, wait: float = 20) -> Any:
    with stack.client(token, Prefer=f"wait={wait}") as client:
        return client.get(f"/api/jobs/{job_id}")


def test_succeeded_job_for_owner_and_admin(stack: Stack, member: tuple[int, str]) -> None:
    uid, token = member
    title = unique("Job ")
    job_id = _submit(stack, token, {"title": title, "content": CONTENT, "cid": stack.cid})
    by_owner = _get(stack, token, job_id)
    assert by_owner.status_code == 200, by_owner.text
    assert by_owner.json()["code"] == "ok"
    job = by_owner.json()["payload"]
    assert set(job) >= FIELDS
    assert (job["id"], job["state"], job["kind"]) == (job_id, "succeeded", "topics.create")
    assert job["attempts"] == 1 and job["error"] is None and job["status_code"] == 200
    assert all(ISO.match(job[k]) for k in ("created_at", "started_at", "finished_at"))
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    # ``result`` is exactly the body the synchronous route answers.
    assert job["result"]["code"] == "ok"
    topic = job["result"]["payload"]["topicData"]
    assert topic["title"] == title and topic["uid"] == uid
    with stack.session() as session:
        assert session.get(Topic, topic["tid"]) is not None
    with stack.client(stack.admin_token) as client:
        by_admin = client.get(f"/api/jobs/{job_id}")
    with stack.client(stack.master_token) as client:
        by_master_as_owner = client.get(f"/api/jobs/{job_id}", params={"_uid": uid})
    assert by_admin.status_code == 200 and by_admin.json()["payload"]["id"] == job_id
    assert by_master_as_owner.json()["payload"] == job


def test_other_users_and_unknown_ids_get_404(stack: Stack, member: tuple[int, str]) -> None:
    _, token = member
    job_id = _submit(stack, stack.admin_token, {"title": "t", "content": CONTENT, "cid": stack.cid})
    _, stranger = user_with_token(stack.database_url)
    for who, wanted in ((stranger, job_id), (token, job_id), (token, uuid.uuid4().hex)):
        response = _get(stack, who, wanted, wait=0)
        assert response.status_code == 404 and response.json() == NOT_FOUND
    with stack.client() as client:
        assert client.get(f"/api/jobs/{job_id}").status_code == 401


def test_failed_job_shows_the_error_envelope(stack: Stack, member: tuple[int, str]) -> None:
    uid, token = member
    title = unique("Too short ")
    job_id = _submit(stack, token, {"title": title, "content": "short", "cid": stack.cid}, "v2")
    job = _get(stack, token, job_id).json()["payload"]
    assert job["state"] == "failed" and job["result"] is None
    assert job["status_code"] == 400
    assert job["error"] == {"code": "bad-request", "message": "content-too-short", "params": ["8"]}
    assert job["finished_at"] and job["attempts"] == 1
    with stack.session() as session:
        assert session.scalar(select(Topic).where(Topic.title == title)) is None
        row = session.scalar(select(Job).where(Job.id == job_id))
        assert row is not None and row.actor_uid == uid and row.state == "failed"


def test_wait_on_the_job_route(stack: Stack, member: tuple[int, str]) -> None:
    uid, token = member
    tid = new_topic(stack.database_url, uid, stack.cid)
    # The reply's job cannot finish while this transaction holds its topic's row: a
    # request that waited would run its whole wait (10 s by default) and then answer.
    with psycopg.connect(pg_dsn(stack.database_url)) as holder:
        holder.execute("SELECT tid FROM topics WHERE tid = %s FOR UPDATE", [tid])
        with stack.client(token, Prefer="wait=0") as client:
            started = time.monotonic()
            response = client.post(f"/api/v1/topics/{tid}", json={"content": CONTENT})
            answered = time.monotonic() - started
        assert response.status_code == 202, response.text
        job_id = response.json()["payload"]["job_id"]
        started = time.monotonic()
        unfinished = _get(stack, token, job_id, wait=0)
        read = time.monotonic() - started
        assert unfinished.json()["payload"]["state"] in ("queued", "running")
    # wait=0 answers at once, without waiting for the job (generous bounds: a loaded
    # machine, but far from the default wait).
    assert answered < 3 and read < 3, (answered, read)
    assert _get(stack, token, job_id, wait=20).json()["payload"]["state"] == "succeeded"
    # A job that is already finished answers at once, whatever the wait.
    job_id = _submit(stack, token, {"title": "Twice", "content": CONTENT, "cid": stack.cid})
    assert _get(stack, token, job_id, wait=20).json()["payload"]["state"] == "succeeded"
    assert _get(stack, token, job_id, wait=0).json()["payload"]["state"] == "succeeded"

"""Permanent failures fail at once; admins list failed jobs and re-run them."""

import os
import subprocess
import sys
import uuid

from sqlalchemy import update

from forum.models import Topic
from tests.support import Stack


def test_failed_job_is_listed_and_can_be_retried(stack: Stack) -> None:
    with stack.client(stack.master_token) as admin:
        uid = admin.post(
            "/api/v1/users",
            json={"username": f"member{uuid.uuid4().hex[:6]}", "_uid": stack.admin_uid},
        ).json()["payload"]["uid"]
        created = admin.post(
            "/api/v1/topics",
            json={"title": "Locked", "content": "First post here", "cid": stack.cid,
                  "_uid": stack.admin_uid},
        ).json()["payload"]  # fmt: skip
        tid = created["topicData"]["tid"]
        with stack.session() as session, session.begin():
            session.execute(update(Topic).where(Topic.tid == tid).values(locked=True))
        refused = admin.post(
            f"/api/v1/topics/{tid}",
            json={"content": "a reply while locked", "_uid": uid},
            headers={"Prefer": "respond-async"},
        )
        assert refused.status_code == 202, refused.text
        job_id = refused.json()["payload"]["job_id"]
        fetched = admin.get(
            f"/api/jobs/{job_id}", params={"_uid": uid}, headers={"Prefer": "wait=20"}
        )
        assert fetched.status_code == 200, (fetched.status_code, fetched.text)
        job = fetched.json()["payload"]
        # A forum rule is permanent: failed at the first attempt, with the envelope.
        assert job["state"] == "failed" and job["attempts"] == 1
        assert job["status_code"] == 400
        assert job["error"]["message"] == "topic-locked"

        listed = admin.get("/api/jobs", params={"state": "failed", "_uid": stack.admin_uid}).json()[
            "payload"
        ]["jobs"]
        assert job_id in {j["id"] for j in listed}
        as_member = admin.get("/api/jobs", params={"state": "failed", "_uid": uid})
        assert as_member.status_code == 403
        bad_state = admin.get("/api/jobs", params={"state": "lost", "_uid": stack.admin_uid})
        assert bad_state.status_code == 400

        with stack.session() as session, session.begin():
            session.execute(update(Topic).where(Topic.tid == tid).values(locked=False))
        retried = subprocess.run(
            [sys.executable, "-m", "forumq", "jobs", "retry", job_id],
            env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert retried.returncode == 0, retried.stderr
        job = admin.get(
            f"/api/jobs/{job_id}", params={"_uid": uid}, headers={"Prefer": "wait=20"}
        ).json()["payload"]
        assert job["state"] == "succeeded"
        assert job["result"]["payload"]["content"] == "<p>a reply while locked</p>\n"

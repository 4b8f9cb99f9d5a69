"""Idempotency-Key: retries return the original job; reuse with another body is
refused; concurrent duplicates never apply twice."""

import asyncio
import collections
import uuid

import httpx
from sqlalchemy import func, select

from forum.models import Job, Post
from tests.support import Stack


def _new_topic(stack: Stack) -> int:
    with stack.client(stack.admin_token) as client:
        response = client.post(
            "/api/v1/topics",
            json={"title": "Idempotent", "content": "First post here", "cid": stack.cid},
        )
    return response.json()["payload"]["topicData"]["tid"]


def test_retry_with_same_key_returns_the_original_result(stack: Stack) -> None:
    tid = _new_topic(stack)
    key = uuid.uuid4().hex
    body = {"content": f"once only {key}"}
    with stack.client(stack.admin_token, **{"Idempotency-Key": key}) as client:
        first = client.post(f"/api/v1/topics/{tid}", json=body)
        second = client.post(f"/api/v1/topics/{tid}", json=body)
        changed = client.post(f"/api/v1/topics/{tid}", json={"content": "another body here"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency-key-reused"
    with stack.session() as session:
        assert session.scalar(select(func.count()).where(Post.content == body["content"])) == 1
        assert session.scalar(select(func.count()).where(Job.idempotency_key == key)) == 1


def test_key_is_scoped_to_the_user(stack: Stack) -> None:
    tid = _new_topic(stack)
    key = uuid.uuid4().hex
    headers = {"Idempotency-Key": key}
    with stack.client(stack.admin_token, **headers) as admin:
        admin.post(f"/api/v1/topics/{tid}", json={"content": f"admin says {key}"})
    with stack.client(stack.master_token, **headers) as client:
        uid = client.post(
            "/api/v1/users", json={"username": f"idem{key[:6]}", "_uid": stack.admin_uid},
            headers={"Idempotency-Key": f"user-{key}"},
        ).json()["payload"]["uid"]  # fmt: skip
        other = client.post(
            f"/api/v1/topics/{tid}", json={"content": "a different user", "_uid": uid}
        )
    assert other.status_code == 200  # the same key, another user: a new write


def test_fifty_concurrent_duplicates_apply_once(stack: Stack) -> None:
    tid = _new_topic(stack)
    key = uuid.uuid4().hex
    content = f"concurrent duplicate {key}"
    headers = {"Authorization": f"Bearer {stack.admin_token}", "Idempotency-Key": key}

    async def hammer() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=30) as c:
            return await asyncio.gather(
                *(c.post(f"/api/v1/topics/{tid}", json={"content": content}) for _ in range(50))
            )

    responses = asyncio.run(hammer())
    statuses = collections.Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1
    pids = {r.json()["payload"]["pid"] for r in responses if r.status_code == 200}
    assert len(pids) == 1  # every success names the same post
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["code"] == "conflict"
    with stack.session() as session:
        assert session.scalar(select(func.count()).where(Post.content == content)) == 1
        assert session.scalar(select(func.count()).where(Job.idempotency_key == key)) == 1

"""``POST /api/v2/bulk`` and the bulk job views, on the production shape (PostgreSQL,
Redis, uvicorn, Celery) with the bulk queue of its own."""

import http.client
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from forum.models import Category, Job, Post, Topic
from tests.support import Stack, start_stack

CONTENT = "Imported content that is long enough"
T0 = 1_500_000_000_000
MAX_ITEMS = 50


@pytest.fixture(scope="module")
def bulk_stack(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Small limits (50 items, chunks of 4) so a request spans several chunks."""
    tag = f"{os.getpid()}.{uuid.uuid4().hex[:6]}"
    env = {
        "FORUMQ_DATABASE_URL": pg_url,
        "FORUMQ_BROKER_URL": redis_url,
        "FORUMQ_INTERACTIVE_QUEUE": f"forumq.test.{tag}",
        "FORUMQ_BULK_QUEUE": f"forumq.test.bulk.{tag}",
        "FORUMQ_BULK_MAX_ITEMS": str(MAX_ITEMS),
        "FORUMQ_BULK_CHUNK_SIZE": "4",
    }
    yield from start_stack(tmp_path_factory.mktemp("bulk"), env, pg_url)


def forum_items(p: str, cid: int) -> list[dict[str, Any]]:
    return [
        {"type": "user", "external_id": f"{p}u1", "username": f"{p}one"},
        {"type": "user", "external_id": f"{p}u2", "username": f"{p}two", "timestamp": T0},
        {"type": "category", "external_id": f"{p}c", "name": "Imported"},
        {"type": "topic", "external_id": f"{p}t1", "category": f"{p}c", "user": f"{p}u1",
         "title": "Old topic", "content": CONTENT, "timestamp": T0, "tags": ["old"]},
        {"type": "reply", "external_id": f"{p}r1", "topic": f"{p}t1", "user": f"{p}u2",
         "content": CONTENT, "timestamp": T0 + 10},
        {"type": "topic", "external_id": f"{p}t2", "cid": cid, "user": f"{p}u2",
         "title": "In the seeded category", "content": CONTENT, "timestamp": T0 + 1},
        {"type": "reply", "external_id": f"{p}r2", "topic": f"{p}t1", "user": f"{p}u1",
         "content": CONTENT, "timestamp": T0 + 20, "to": f"{p}r1"},
        {"type": "reply", "external_id": f"{p}r3", "topic": f"{p}t2", "user": f"{p}u1",
         "content": CONTENT, "timestamp": T0 + 30},
    ]  # fmt: skip


def ndjson(items: list[Any]) -> bytes:
    return b"\n".join(orjson.dumps(i) for i in items) + b"\n"


def post_bulk(stack: Stack, body: bytes, **headers: str) -> Any:
    with stack.client(stack.admin_token) as client:
        return client.post(
            "/api/v2/bulk",
            content=body,
            headers={"Content-Type": "application/x-ndjson", "Prefer": "wait=30", **headers},
        )


def test_ndjson_import_applies_all_chunks_and_lists_items(bulk_stack: Stack) -> None:
    p = uuid.uuid4().hex[:8]
    items = forum_items(p, bulk_stack.cid)
    unknown = {"type": "reply", "external_id": f"{p}r9", "topic": f"{p}nope", "user": f"{p}u1",
               "content": CONTENT}  # fmt: skip
    body = ndjson(items[:3]) + b"{not json\n" + ndjson([*items[3:], unknown])
    response = post_bulk(bulk_stack, body, Prefer="respond-async")
    assert response.status_code == 202, response.text
    job_id = response.json()["payload"]["job_id"]

    with bulk_stack.client(bulk_stack.admin_token) as client:
        waited = client.get(f"/api/jobs/{job_id}", headers={"Prefer": "wait=30"})
        job = waited.json()["payload"]
        assert job["state"] == "succeeded" and job["kind"] == "bulk.import", job
        assert job["result"]["payload"] == {
            "job_id": job["id"],
            "total": 10,
            "succeeded": 8,
            "failed": 2,
            "existing": 0,
        }
        assert job["progress"] == {"done": 10, "failed": 2, "existing": 0, "total": 10}
        page = client.get(f"/api/jobs/{job['id']}/items", params={"offset": 2, "limit": 3})
        rest = client.get(f"/api/jobs/{job['id']}/items", params={"offset": 5, "limit": 100})
    assert page.status_code == 200, page.text
    first = page.json()["payload"]
    assert first["total"] == 10 and [i["index"] for i in first["items"]] == [2, 3, 4]
    category, bad_line, topic = first["items"]
    assert category["state"] == "created" and category["type"] == "category"
    assert bad_line["state"] == "failed" and bad_line["error"]["line"] == 4
    assert bad_line["error"]["status"] == 400 and bad_line["error"]["message"] == "invalid-json"
    assert topic["state"] == "created" and topic["external_id"] == f"{p}t1"
    last = rest.json()["payload"]["items"]
    assert [i["index"] for i in last] == [5, 6, 7, 8, 9]
    assert last[-1]["state"] == "failed"
    assert last[-1]["error"]["message"] == "unknown-external-id"
    assert last[-1]["error"]["params"] == ["topic", f"{p}nope"]

    with bulk_stack.session() as session:
        t1 = session.get(Topic, topic["id"])
        assert t1 is not None and t1.postcount == 3 and t1.timestamp == T0
        assert t1.lastposttime == T0 + 20 and t1.postercount == 2
        reply = session.scalar(select(Post).where(Post.external_id == f"{p}r2"))
        assert reply is not None and t1.teaser_pid == reply.pid and reply.timestamp == T0 + 20
        imported = session.get(Category, category["id"])
        assert imported is not None and (imported.topic_count, imported.post_count) == (1, 3)


def test_resent_items_are_existing(bulk_stack: Stack) -> None:
    p = uuid.uuid4().hex[:8]
    items = forum_items(p, bulk_stack.cid)
    with bulk_stack.client(bulk_stack.admin_token) as client:
        first = client.post("/api/v2/bulk", json=items, headers={"Prefer": "wait=30"})
        second = client.post("/api/v2/bulk", json=items, headers={"Prefer": "respond-async"})
        assert first.status_code == 200, first.text
        assert second.status_code == 202, second.text
        job_id = second.json()["payload"]["job_id"]
        assert second.headers["location"] == f"/api/jobs/{job_id}"
        job = client.get(f"/api/jobs/{job_id}", headers={"Prefer": "wait=30"}).json()["payload"]
        assert job["state"] == "succeeded" and job["kind"] == "bulk.import"
        assert job["result"]["payload"] == {
            "job_id": job["id"],
            "total": 8,
            "succeeded": 8,
            "failed": 0,
            "existing": 8,
        }
        views = client.get(f"/api/jobs/{job_id}/items").json()["payload"]["items"]
    assert {v["state"] for v in views} == {"existing"}
    with bulk_stack.session() as session:
        topics = session.scalars(select(Topic).where(Topic.external_id == f"{p}t1")).all()
        assert len(topics) == 1 and topics[0].postcount == 3
        assert views[3]["id"] == topics[0].tid


def test_an_item_with_a_nul_fails_alone_with_its_line(bulk_stack: Stack) -> None:
    p = uuid.uuid4().hex[:8]
    items = forum_items(p, bulk_stack.cid)[:4]
    items[3] = {**items[3], "content": "NUL \x00 inside"}  # the topic
    items.append({**items[3], "external_id": f"{p}t9", "content": CONTENT})
    response = post_bulk(bulk_stack, ndjson(items), Prefer="respond-async")
    assert response.status_code == 202, response.text
    job_id = response.json()["payload"]["job_id"]
    with bulk_stack.client(bulk_stack.admin_token) as client:
        job = client.get(f"/api/jobs/{job_id}", headers={"Prefer": "wait=30"}).json()["payload"]
        assert job["result"]["payload"] == {
            "job_id": job["id"],
            "total": 5,
            "succeeded": 4,
            "failed": 1,
            "existing": 0,
        }
        views = client.get(f"/api/jobs/{job_id}/items").json()["payload"]["items"]
    assert views[3]["state"] == "failed" and views[3]["error"]["line"] == 4
    assert views[3]["error"]["message"] == "invalid-data"
    assert views[3]["error"]["params"] == ["content", "text must not contain NUL (U+0000)"]
    assert [v["state"] for v in views] == ["created"] * 3 + ["failed", "created"]
    with bulk_stack.session() as session:
        assert session.scalar(select(Topic).where(Topic.external_id == f"{p}t1")) is None
        assert session.scalar(select(Topic).where(Topic.external_id == f"{p}t9")) is not None


def test_too_many_items_is_413_with_the_limit(bulk_stack: Stack) -> None:
    items = [{"type": "user", "external_id": f"x{i}", "username": f"x{i}"} for i in range(51)]
    response = post_bulk(bulk_stack, ndjson(items))
    assert response.status_code == 413
    assert response.json()["code"] == "payload-too-large"
    assert response.json()["params"] == {"limit": MAX_ITEMS, "unit": "items"}


def test_non_admin_is_403_and_v1_has_no_bulk_route(bulk_stack: Stack) -> None:
    with bulk_stack.client(bulk_stack.master_token) as client:
        uid = client.post(
            "/api/v1/users",
            json={"username": f"u{uuid.uuid4().hex[:8]}", "_uid": bulk_stack.admin_uid},
        ).json()["payload"]["uid"]
        refused = client.post(f"/api/v2/bulk?_uid={uid}", json=[])
        allowed_shape = client.post(f"/api/v2/bulk?_uid={bulk_stack.admin_uid}", json={"a": 1})
    with bulk_stack.client(bulk_stack.admin_token) as client:
        v1 = client.post("/api/v1/bulk", json=[])
        unknown_job = client.get("/api/jobs/nonexistent/items")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert allowed_shape.status_code == 400 and allowed_shape.json()["code"] == "bad-request"
    assert v1.status_code == 404
    assert unknown_job.status_code == 404


def _forumq_import(stack: Stack, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "forumq", "import", *args],
        env={**os.environ, **stack.env, **(env or {})},
        capture_output=True,
        timeout=120,
    )


def test_cli_import_streams_batches_and_resumes(bulk_stack: Stack, tmp_path: Path) -> None:
    p = uuid.uuid4().hex[:8]
    items = forum_items(p, bulk_stack.cid)
    export = tmp_path / "export.ndjson"
    export.write_bytes(ndjson(items[:5]) + b"{broken\n" + ndjson(items[5:]))
    master = (str(export), "--url", bulk_stack.base_url, "--token", bulk_stack.master_token)
    without_uid = _forumq_import(bulk_stack, *master)
    assert without_uid.returncode == 1
    assert b"a master token acts as a user: give --uid" in without_uid.stderr
    args = (str(export), "--url", bulk_stack.base_url, "--token", bulk_stack.admin_token)
    done = _forumq_import(bulk_stack, *args, "--batch", "3")
    assert done.returncode == 2, done.stderr  # one malformed line: reported, the rest applied
    assert b"line 6" in done.stderr
    assert b"9 items (0 already existed), 1 failed" in done.stderr
    assert not (tmp_path / "export.ndjson.forumq-import").exists()
    with bulk_stack.session() as session:
        topic = session.scalar(select(Topic).where(Topic.external_id == f"{p}t1"))
        assert topic is not None and topic.postcount == 3

    # An interrupted run left its position: only the rest of the file is sent.
    state = {"offset": len(ndjson(items[:5])) + len(b"{broken\n"), "line": 6,
             "size": export.stat().st_size}  # fmt: skip
    (tmp_path / "export.ndjson.forumq-import").write_bytes(orjson.dumps(state))
    resumed = _forumq_import(bulk_stack, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert b"3 items (3 already existed), 0 failed" in resumed.stderr

    # --direct: the same domain code, straight to the database, re-sent items existing;
    # a failed item's error is printed as it is (NodeBB's keys are not rich markup).
    orphan = {"type": "reply", "external_id": f"{p}r9", "topic": f"{p}nowhere",
              "user": f"{p}u1", "content": CONTENT}  # fmt: skip
    export.write_bytes(export.read_bytes() + ndjson([orphan]))
    direct = _forumq_import(bulk_stack, str(export), "--direct", "--restart")
    assert direct.returncode == 2, direct.stderr
    assert b"10 items (8 already existed), 2 failed" in direct.stderr, direct.stderr
    failed = f"failed line 10: reply '{p}r9': [[error:unknown-external-id, topic, {p}nowhere]]\n"
    assert failed.encode() in direct.stderr, direct.stderr
    with bulk_stack.session() as session:
        topics = session.scalars(select(Topic).where(Topic.external_id == f"{p}t1")).all()
        assert len(topics) == 1 and topics[0].postcount == 3


def test_idempotency_key_on_bulk(bulk_stack: Stack) -> None:
    p = uuid.uuid4().hex[:8]
    body = ndjson(forum_items(p, bulk_stack.cid))
    key = f"bulk-{p}"
    first = post_bulk(bulk_stack, body, **{"Idempotency-Key": key})
    again = post_bulk(bulk_stack, body, **{"Idempotency-Key": key})
    other = post_bulk(bulk_stack, ndjson(forum_items(p + "x", bulk_stack.cid)),
                      **{"Idempotency-Key": key})  # fmt: skip
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()  # the original job's answer, no second job
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency-key-reused"
    with bulk_stack.session() as session:
        titles = session.scalars(select(Topic.title).where(Topic.external_id == f"{p}t1")).all()
        assert titles == ["Old topic"]


def test_a_json_array_is_replayed_by_its_key_and_refused_whole_if_not_json(
    bulk_stack: Stack,
) -> None:
    """A JSON array is split as it arrives: one element that is not JSON refuses the
    body (nothing stored), as a whole-body parse did; a retry is the first answer."""
    p = uuid.uuid4().hex[:8]
    items = forum_items(p, bulk_stack.cid)[:3]
    good = orjson.dumps(items)
    broken = good[:-1] + b', {"type": "user", "external_id": "x" ]'
    json = {"Content-Type": "application/json", "Idempotency-Key": f"array-{p}"}
    refused = post_bulk(bulk_stack, broken, **{**json, "Idempotency-Key": f"broken-{p}"})
    first = post_bulk(bulk_stack, good, **json)
    again = post_bulk(bulk_stack, good, **json)
    other = post_bulk(bulk_stack, good.replace(b"Imported", b"Other"), **json)
    assert refused.status_code == 400, refused.text
    assert refused.json()["message"].startswith("The request body is not valid JSON")
    with bulk_stack.session() as session:
        assert session.scalar(select(Job).where(Job.idempotency_key == f"broken-{p}")) is None
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json() and first.json()["payload"]["total"] == 3
    assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"


def test_a_waited_for_answer_leads_to_the_failed_items(bulk_stack: Stack) -> None:
    """The final answer names its job (payload and Location): which items failed?"""
    p = uuid.uuid4().hex[:8]
    items = [*forum_items(p, bulk_stack.cid)[:3],
             {"type": "reply", "external_id": f"{p}x", "topic": f"{p}nope", "uid": 1,
              "content": CONTENT}]  # fmt: skip
    with bulk_stack.client(bulk_stack.admin_token) as client:
        answer = client.post("/api/v2/bulk", json=items, headers={"Prefer": "wait=30"})
        assert answer.status_code == 200, answer.text
        payload = answer.json()["payload"]
        job_id = payload["job_id"]
        assert payload == {"job_id": job_id, "total": 4, "succeeded": 3, "failed": 1,
                           "existing": 0}  # fmt: skip
        assert answer.headers["location"] == f"/api/jobs/{job_id}"
        views = client.get(f"{answer.headers['location']}/items").json()["payload"]["items"]
    assert [v["state"] for v in views] == ["created"] * 3 + ["failed"]
    assert views[3]["error"]["message"] == "unknown-external-id"


def test_a_body_over_the_byte_limit_is_413_in_the_one_params_shape(stack: Stack) -> None:
    """The bulk limit is in bytes like every other body's (FORUMQ_BULK_MAX_BYTES)."""
    limit = 64 * 1_048_576
    # Declared over the limit: answered before a byte of the body is read.
    connection = http.client.HTTPConnection(stack.base_url.removeprefix("http://"), timeout=30)
    headers = {"Authorization": f"Bearer {stack.admin_token}", "Content-Length": str(limit + 1)}
    connection.request("POST", "/api/v2/bulk", body=b"[]", headers=headers)
    declared = connection.getresponse()
    assert declared.status == 413
    assert orjson.loads(declared.read())["params"] == {"limit": limit, "unit": "bytes"}
    connection.close()

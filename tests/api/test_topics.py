"""Topic create and reply over HTTP, through the queue, on both stacks."""

import uuid

from sqlalchemy import select

from forum.models import Category, Post, Topic, User
from tests.support import Stack

CONTENT = "Some content that is long enough"


def test_quick_start_curl_creates_a_topic(any_stack: Stack) -> None:
    # The plugin README's quick start: a form body with a master token and _uid.
    with any_stack.client(any_stack.master_token) as client:
        response = client.post(
            "/api/v1/topics",
            data={
                "title": "Hello",
                "content": CONTENT,
                "cid": any_stack.cid,
                "_uid": any_stack.admin_uid,
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "ok"
    topic, post = body["payload"]["topicData"], body["payload"]["postData"]
    assert topic["title"] == "Hello"
    assert topic["mainPid"] == post["pid"]
    assert post["content"] == f"<p>{CONTENT}</p>\n"  # rendered, as NodeBB answers
    with any_stack.session() as session:
        row = session.get(Topic, topic["tid"])
        assert row is not None and row.postcount == 1 and row.main_pid == post["pid"]


def test_json_reply_updates_counters(any_stack: Stack) -> None:
    with any_stack.client(any_stack.admin_token) as client:
        created = client.post(
            "/api/v1/topics", json={"title": "Counted", "content": CONTENT, "cid": any_stack.cid}
        ).json()["payload"]
        tid = created["topicData"]["tid"]
        with any_stack.session() as session:
            before_cat = session.get(Category, any_stack.cid).post_count
            before_user = session.get(User, any_stack.admin_uid).postcount
        reply = client.post(f"/api/v1/topics/{tid}", json={"content": "A reply, long enough"})
    assert reply.status_code == 200, reply.text
    pid = reply.json()["payload"]["pid"]
    with any_stack.session() as session:
        topic = session.get(Topic, tid)
        assert topic.postcount == 2
        assert topic.teaser_pid == pid
        assert session.get(Category, any_stack.cid).post_count == before_cat + 1
        assert session.get(User, any_stack.admin_uid).postcount == before_user + 1


def test_respond_async_answers_202_and_job_finishes(any_stack: Stack) -> None:
    with any_stack.client(any_stack.admin_token) as client:
        response = client.post(
            "/api/v1/topics",
            json={"title": "Async", "content": CONTENT, "cid": any_stack.cid},
            headers={"Prefer": "respond-async"},
        )
        assert response.status_code == 202
        job_id = response.json()["payload"]["job_id"]
        assert response.headers["location"] == f"/api/jobs/{job_id}"
        job = client.get(f"/api/jobs/{job_id}", headers={"Prefer": "wait=20"}).json()["payload"]
    assert job["state"] == "succeeded"
    assert job["kind"] == "topics.create"
    assert job["result"]["payload"]["topicData"]["title"] == "Async"
    assert job["finished_at"] and job["attempts"] == 1


def test_reply_to_unknown_topic_is_404_and_leaves_no_row(any_stack: Stack) -> None:
    with any_stack.session() as session:
        posts_before = len(session.scalars(select(Post.pid)).all())
    with any_stack.client(any_stack.admin_token) as client:
        response = client.post("/api/v1/topics/999999", json={"content": CONTENT})
        not_numeric = client.post("/api/v1/topics/abc", json={"content": CONTENT})
    assert response.status_code == 404
    assert response.json()["code"] == "not-found"
    assert not_numeric.status_code == 404
    with any_stack.session() as session:
        assert len(session.scalars(select(Post.pid)).all()) == posts_before


def test_missing_and_empty_fields(any_stack: Stack) -> None:
    with any_stack.client(any_stack.admin_token) as client:
        missing = client.post("/api/v1/topics", json={"content": CONTENT})
        empty = client.post("/api/v1/topics", json={"title": " ", "content": CONTENT, "cid": 1})
        bad_cid = client.post(
            "/api/v1/topics", json={"title": "x", "content": CONTENT, "cid": "one"}
        )
    assert missing.status_code == 400
    assert missing.json() == {
        "code": "params-missing",
        "message": missing.json()["message"],
        "params": ["cid", "title"],
    }
    assert empty.status_code == 400 and empty.json()["code"] == "bad-request"
    assert empty.json()["params"] == ["title"]
    assert bad_cid.status_code == 400 and bad_cid.json()["params"] == ["cid"]


def test_unknown_category_and_short_content_fail_cleanly(any_stack: Stack) -> None:
    title = f"never-{uuid.uuid4().hex[:8]}"
    with any_stack.client(any_stack.master_token) as client:
        # A regular user (not admin) so the length rules apply.
        uid = client.post(
            "/api/v1/users",
            json={"username": f"u{uuid.uuid4().hex[:8]}", "_uid": any_stack.admin_uid},
        ).json()["payload"]["uid"]
        no_category = client.post(
            "/api/v1/topics", json={"title": title, "content": CONTENT, "cid": 424242, "_uid": uid}
        )
        too_short = client.post(
            "/api/v1/topics",
            json={"title": title, "content": "short", "cid": any_stack.cid, "_uid": uid},
        )
    assert no_category.status_code == 400
    assert no_category.json()["message"] == "no-category"
    assert too_short.status_code == 400
    assert too_short.json()["message"] == "content-too-short"
    with any_stack.session() as session:
        assert session.scalar(select(Topic).where(Topic.title == title)) is None

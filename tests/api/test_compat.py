"""What real clients of the plugin tripped on (issue: "What real clients tripped on"):
trailing slashes, unknown objects told from unknown routes, unserved methods, and a
202 that must not look like success."""

from types import SimpleNamespace

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from api.app import create_app
from api.writes import Writes
from forum.models import Topic
from forumq.settings import Settings
from tests.support import CONTENT, Forum, Stack

INVALID_CALL = {"code": "not-found", "message": "Invalid API call", "params": {}}


def test_a_trailing_slash_is_the_same_route(stack: Stack) -> None:
    forum = Forum(stack)
    uid = forum.user()
    body = {"cid": stack.cid, "title": "Slash", "content": CONTENT}
    with forum.master(uid) as client:
        created = client.post("/api/v1/topics/", json=body)
        assert created.status_code == 200, created.text
        tid = created.json()["payload"]["topicData"]["tid"]
        replied = client.post(f"/api/v2/topics/{tid}/", json={"content": CONTENT})
    assert replied.status_code == 200, replied.text
    assert forum.row(Topic, tid).postcount == 2


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("POST", "/api/v1/topics/987654321", "no-topic"),
        ("POST", "/api/v1/topics/not-a-number", "no-topic"),
        ("DELETE", "/api/v2/posts/987654321", "no-post"),
        ("PUT", "/api/v2/users/987654321/follow", "no-user"),
        ("PUT", "/api/v1/categories/987654321", "no-category"),
        ("PUT", "/api/v2/groups/no-such-group-here/membership", "no-group"),
    ],
)
def test_an_unknown_object_says_which(stack: Stack, method: str, path: str, key: str) -> None:
    with Forum(stack).master(stack.admin_uid) as client:
        body = {"name": "x"} if "categories" in path else {"content": CONTENT}
        answer = client.request(method, path, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json() == {"code": "not-found", "message": key, "params": {}}


def test_an_unknown_route_is_still_an_invalid_api_call(stack: Stack) -> None:
    with Forum(stack).master(stack.admin_uid) as client:
        for path in ("/api/v1/topicz/1", "/api/v2/topics/1/nothing"):
            answer = client.post(path, json={})
            assert (answer.status_code, answer.json()) == (404, INVALID_CALL), path


def test_unserved_methods_are_405_with_allow() -> None:
    client = TestClient(create_app(Settings(database_url="sqlite://", upload_dir="uploads")))
    for method, path, allow in [
        ("TRACE", "/api/v1/topics", "POST"),
        ("OPTIONS", "/api/v2/topics/1", "POST, PUT, DELETE"),
        ("TRACE", "/api/v2/users/1/follow", "PUT, DELETE"),
        ("CONNECT", "/api/v1/ping", "GET, HEAD, POST"),
    ]:
        answer = client.request(method, path)
        assert answer.status_code == 405, (method, path, answer.text)
        assert answer.headers["allow"] == allow
        assert answer.json()["code"] == "method-not-allowed"
    # An unknown path is 404 whatever the method; a served method elsewhere is the plugin's 404.
    assert client.request("TRACE", "/api/v1/nothing/here").status_code == 404
    assert client.request("GET", "/api/v1/topics").json() == INVALID_CALL


def test_a_202_is_accepted_not_ok(stack: Stack) -> None:
    forum = Forum(stack)
    uid = forum.user()
    body = {"cid": stack.cid, "title": "Later", "content": CONTENT}
    with forum.master(uid) as client:
        for router in ("v1", "v2"):
            answer = client.post(f"/api/{router}/topics", json=body, headers={"Prefer": "wait=0"})
            assert answer.status_code == 202, answer.text
            envelope = answer.json()
            assert envelope["code"] == "accepted" and envelope["message"]
            assert (
                envelope["payload"]["links"]["self"] == f"/api/jobs/{envelope['payload']['job_id']}"
            )


def _timeout(prefer: str | None, max_wait: float) -> float:
    settings = Settings(database_url="sqlite://", max_wait=max_wait)
    writes = Writes(SimpleNamespace(settings=settings))
    headers = [] if prefer is None else [(b"prefer", prefer.encode())]
    return writes._timeout(Request({"type": "http", "headers": headers}))


def test_without_a_preference_a_write_waits_the_maximum_wait() -> None:
    assert _timeout(None, 42) == 42
    assert _timeout("wait=5", 42) == 5
    assert _timeout("wait=500", 42) == 42
    assert _timeout("respond-async", 42) == 0


def test_topic_and_reply_payloads_are_nodebbs_objects(any_stack: Stack) -> None:
    """A client reads ``payload.user.uid`` and ``payload.topic.uid`` on every reply."""
    forum = Forum(any_stack)
    author, replier = forum.user(), forum.user()
    body = {"cid": any_stack.cid, "title": "Rich payloads", "content": "*Long* enough text",
            "tags": ["alpha", "beta"]}  # fmt: skip
    for router in ("v1", "v2"):
        with forum.master(author) as client:
            created = client.post(f"/api/{router}/topics", json=body).json()["payload"]
        topic, post = created["topicData"], created["postData"]
        assert topic["slug"] == f"{topic['tid']}/rich-payloads"
        assert topic["category"]["cid"] == any_stack.cid and topic["user"]["uid"] == author
        assert topic["mainPost"]["pid"] == post["pid"] == topic["mainPid"]
        assert sorted(tag["value"] for tag in topic["tags"]) == ["alpha", "beta"]
        assert post["content"] == "<p><em>Long</em> enough text</p>\n"
        with forum.master(replier) as client:
            answer = client.post(f"/api/{router}/topics/{topic['tid']}", json={"content": CONTENT})
        reply = answer.json()["payload"]
        assert reply["user"]["uid"] == replier and reply["topic"]["uid"] == author
        assert reply["topic"]["tid"] == topic["tid"] and reply["category"]["cid"] == any_stack.cid
        assert reply["content"] == f"<p>{CONTENT}</p>\n" and reply["index"] == 1

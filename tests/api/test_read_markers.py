"""Per-user read markers over HTTP, on both stacks: ``/api/unread`` lists what has news
for the caller until they read it (opening the topic's page, or core's ``PUT
/topics/{tid}/read``), again after another user's reply, and after ``DELETE``."""

import time

import httpx

from tests.api.reads import get, new_category, new_topic, new_user, ok, refused
from tests.support import Stack


def unread(stack: Stack, token: str, cid: int) -> list[int]:
    return [t["tid"] for t in ok(get(stack, "/api/unread", token, cid=cid))["topics"]]


def total(stack: Stack, token: str) -> int:
    response = get(stack, "/api/unread/total", token)
    assert response.status_code == 200, response.text
    return int(response.json())


def written(client: httpx.Client, method: str, path: str, **body: object) -> None:
    """A v3 write's final answer."""
    response = client.request(method, path, json=body or None)
    assert response.status_code == 200, f"{method} {path}: {response.text}"
    assert response.json()["status"]["code"] == "ok"


def eventually(check, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """A page view marks its topic after the page is sent: within moments."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not marked in time"
        time.sleep(0.05)


def test_a_topic_is_unread_until_read(any_stack: Stack) -> None:
    alice, alice_token, _ = new_user(any_stack)
    bob, bob_token, bob_slug = new_user(any_stack)
    cid = new_category(any_stack)
    tid = new_topic(any_stack, alice, cid, replies=1)
    mine = new_topic(any_stack, bob, cid)  # posting reads a topic
    assert unread(any_stack, bob_token, cid) == [tid]
    before = total(any_stack, bob_token)
    listed = ok(get(any_stack, "/api/recent", bob_token, cid=cid))["topics"]
    assert {t["tid"]: t["unread"] for t in listed} == {tid: True, mine: False}

    # Opening the page reads it (after the page is answered).
    ok(get(any_stack, f"/api/topic/{tid}", bob_token), f"/api/topic/{tid}/x")
    eventually(lambda: unread(any_stack, bob_token, cid) == [])
    assert total(any_stack, bob_token) == before - 1
    assert not ok(get(any_stack, "/api/recent", bob_token, cid=cid))["topics"][0]["unread"]
    # A guest's view marks nothing; Alice's list is her own.
    ok(get(any_stack, f"/api/topic/{tid}"), f"/api/topic/{tid}/x")
    assert unread(any_stack, alice_token, cid) == [mine]

    with any_stack.client(alice_token) as client:
        written(client, "POST", f"/api/v3/topics/{tid}", content="News for Bob, long enough")
    assert unread(any_stack, bob_token, cid) == [tid]  # a reply after his reading

    with any_stack.client(bob_token) as client:
        written(client, "PUT", f"/api/v3/topics/{tid}/read")
        assert unread(any_stack, bob_token, cid) == []
        written(client, "DELETE", f"/api/v3/topics/{tid}/read")
        assert unread(any_stack, bob_token, cid) == [tid]
        written(client, "DELETE", f"/api/v3/topics/{mine}/read")  # even his own
        assert unread(any_stack, bob_token, cid) == [tid, mine]
        written(client, "PUT", f"/api/v3/topics/{mine}/read")
        written(client, "PUT", f"/api/v3/topics/{tid}/read")
        assert unread(any_stack, bob_token, cid) == []
        missing = client.put("/api/v3/topics/99999999/read")
        assert missing.status_code == 404 and missing.json()["status"]["code"] == "not-found"
        assert client.put("/api/v3/topics/x/read").status_code in (400, 404)
    # Bob's read topics, latest reading first: his own page, or an administrator's view.
    read = ok(get(any_stack, f"/api/user/{bob_slug}/read", bob_token))["topics"]
    assert [t["tid"] for t in read][:2] == [tid, mine]
    refused(get(any_stack, f"/api/user/{bob_slug}/read", alice_token), 403)
    with any_stack.client() as guest:
        assert guest.put(f"/api/v3/topics/{tid}/read").status_code == 401
    refused(get(any_stack, "/api/unread/total"), 401)

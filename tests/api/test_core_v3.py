"""NodeBB core's Write API v3 over HTTP through the queue: core's paths, envelope and
statuses over the same commands as v1/v2. Every answer is checked against core's own
``write.yaml`` (tests/nodebb_spec.py); the database is checked after each write, and a
refused write leaves no row behind."""

import concurrent.futures
import hashlib
import time
import uuid
from typing import Any

import httpx
import pytest

from forum.models import (
    Category,
    ChatRoom,
    Group,
    GroupMember,
    Post,
    Topic,
    TopicFollow,
    TopicTag,
    User,
)
from tests.core_v3 import CONTENT, Core
from tests.nodebb_spec import check_answer
from tests.support import Stack, unique, user_with_token


@pytest.fixture(scope="module")
def member(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


def test_topic_create_and_reply_answer_core_objects(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    topic = core.topic(token, tags=["python", "queues"])
    assert topic["uid"] == uid and topic["cid"] == core.stack.cid
    assert topic["slug"].startswith(f"{topic['tid']}/")
    assert topic["mainPost"]["pid"] == topic["mainPid"]
    assert sorted(tag["value"] for tag in topic["tags"]) == ["python", "queues"]
    reply = core.ok(token, "POST", f"/topics/{topic['tid']}", json={"content": CONTENT})
    assert reply["tid"] == topic["tid"] and reply["uid"] == uid
    assert core.row(Topic, topic["tid"]).postcount == 2


def test_core_ignores_a_timestamp_backdating_is_the_plugins(core: Core, member: Any) -> None:
    _, token = member
    topic = core.topic(token, timestamp=556084800000)
    assert core.row(Topic, topic["tid"]).timestamp > 556084800000 * 2


def test_topic_moderation_routes(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    admin = core.stack.admin_token
    tid = core.topic(token)["tid"]
    assert core.ok(token, "PUT", f"/topics/{tid}/follow") == {}
    assert core.count(TopicFollow.tid == tid, TopicFollow.uid == uid) == 1
    assert core.ok(token, "DELETE", f"/topics/{tid}/follow") == {}
    assert core.count(TopicFollow.tid == tid, TopicFollow.uid == uid) == 0
    tags = core.ok(token, "PUT", f"/topics/{tid}/tags", json={"tags": ["alpha", "beta"]})
    assert isinstance(tags, list)
    assert core.count(TopicTag.tid == tid) == 2
    core.ok(token, "DELETE", f"/topics/{tid}/tags")
    assert core.count(TopicTag.tid == tid) == 0
    # Pinning is for moderators and admins: core's status for no-privileges is 403.
    assert "no-privileges" in core.refused(token, "PUT", f"/topics/{tid}/pin", 403)
    core.ok(admin, "PUT", f"/topics/{tid}/pin")
    assert core.row(Topic, tid).pinned
    core.ok(admin, "DELETE", f"/topics/{tid}/pin")
    assert not core.row(Topic, tid).pinned
    core.ok(token, "DELETE", f"/topics/{tid}/state")
    assert core.row(Topic, tid).deleted
    core.ok(token, "PUT", f"/topics/{tid}/state")
    assert not core.row(Topic, tid).deleted
    core.ok(admin, "DELETE", f"/topics/{tid}")
    assert core.row(Topic, tid) is None


def test_post_routes(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    voter, voters = user_with_token(core.stack.database_url)
    topic = core.topic(token)
    reply = core.ok(token, "POST", f"/topics/{topic['tid']}", json={"content": CONTENT})
    pid = reply["pid"]
    edited = core.ok(token, "PUT", f"/posts/{pid}", json={"content": "Edited content here"})
    assert edited["pid"] == pid
    assert core.row(Post, pid).content == "Edited content here"
    assert core.ok(voters, "PUT", f"/posts/{pid}/vote", json={"delta": 1}) == {}
    assert core.row(Post, pid).upvotes == 1
    assert core.ok(voters, "DELETE", f"/posts/{pid}/vote") == {}
    assert core.row(Post, pid).upvotes == 0
    core.ok(voters, "PUT", f"/posts/{pid}/bookmark")
    assert core.row(Post, pid).bookmarks == 1
    core.ok(voters, "DELETE", f"/posts/{pid}/bookmark")
    assert core.row(Post, pid).bookmarks == 0
    core.ok(token, "DELETE", f"/posts/{pid}/state")
    assert core.row(Post, pid).deleted
    core.ok(token, "PUT", f"/posts/{pid}/state")
    assert not core.row(Post, pid).deleted
    assert "no-privileges" in core.refused(voters, "DELETE", f"/posts/{pid}", 403)
    core.ok(core.stack.admin_token, "DELETE", f"/posts/{pid}")
    assert core.row(Post, pid) is None and voter != uid


def test_missing_objects_are_404_saying_which(core: Core, member: tuple[int, str]) -> None:
    _, token = member
    absent = 987654321
    assert core.refused(token, "POST", f"/topics/{absent}", 404, json={"content": CONTENT}) \
        == "[[error:no-topic]]"  # fmt: skip
    assert core.refused(token, "POST", "/topics/abc", 404, json={"content": CONTENT}) \
        == "[[error:no-topic]]"  # fmt: skip
    assert core.refused(token, "PUT", f"/posts/{absent}/bookmark", 404) == "[[error:no-post]]"
    assert core.refused(token, "PUT", f"/users/{absent}/follow", 404) == "[[error:no-user]]"
    with core.client(token) as client:
        unknown = client.post("/topicz", json={})
    assert unknown.status_code == 404
    assert unknown.json() == {"status": {"code": "not-found", "message": "Invalid API call"},
                              "response": {}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"title": "No category", "content": CONTENT}, 400,
         "[[error:required-parameters-missing, cid]]"),
        ({"cid": "x", "title": "Bad category", "content": CONTENT}, 400, None),
        ({"cid": 1, "title": "Short", "content": "tiny"}, 400, "[[error:content-too-short, 8]]"),
        ({"cid": 987654321, "title": "Nowhere", "content": CONTENT}, 400, "[[error:no-category]]"),
        ({"cid": 1, "title": "T" * 300, "content": CONTENT}, 400, "[[error:title-too-long, 255]]"),
        ({"cid": 1, "title": "Tags", "content": CONTENT, "tags": [["x"]]}, 400, None),
    ],
)  # fmt: skip
def test_bad_topic_input_is_core_400_and_leaves_no_row(
    core: Core, member: tuple[int, str], body: dict[str, Any], status: int, message: str | None
) -> None:
    uid, token = member
    if body.get("cid") == 1:
        body = {**body, "cid": core.stack.cid}
    before = core.count(Topic.uid == uid), core.count(Post.uid == uid)
    got = core.refused(token, "POST", "/topics", status, json=body)
    if message is not None:
        assert got == message
    assert (core.count(Topic.uid == uid), core.count(Post.uid == uid)) == before


def test_missing_parameters_are_named_in_the_response(core: Core, member: Any) -> None:
    _, token = member
    answer = core.call(token, "POST", "/topics", json={"title": "Only a title"})
    assert answer.status_code == 400
    assert sorted(answer.json()["response"]["params"]) == ["cid", "content"]


def test_credentials_and_privileges(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    with httpx.Client(base_url=core.stack.base_url + "/api/v3", timeout=30) as anonymous:
        answer = anonymous.post("/topics", json={"cid": core.stack.cid})
    check_answer(answer)
    assert answer.status_code == 401
    assert answer.json()["status"]["code"] == "not-authorised"
    # Admin routes: 403 before any parameter is looked at.
    assert "no-privileges" in core.refused(token, "POST", "/categories", 403, json={"name": "x"})
    # "Self or admin": 403 on v3 (401 on the plugin's routes).
    other, _ = user_with_token(core.stack.database_url)
    core.refused(token, "PUT", f"/users/{other}", 403, json={"fullname": "Not mine"})
    assert (core.row(User, other).profile or {}).get("fullname") is None
    assert uid != other


def test_users(core: Core) -> None:
    admin = core.stack.admin_token
    name = unique("core")
    created = core.ok(admin, "POST", "/users", json={"username": name, "password": "secret123"})
    uid = created["uid"]
    assert core.row(User, uid).username == name
    updated = core.ok(admin, "PUT", f"/users/{uid}", json={"fullname": "Core User"})
    assert updated["uid"] == uid
    assert core.row(User, uid).profile["fullname"] == "Core User"
    core.ok(admin, "PUT", f"/users/{uid}/password", json={"newPassword": "another123"})
    assert core.refused(admin, "PUT", f"/users/{uid}/password", 400, json={}) \
        == "[[error:required-parameters-missing, newPassword]]"  # fmt: skip
    core.ok(admin, "PUT", f"/users/{uid}/follow")
    core.ok(admin, "DELETE", f"/users/{uid}/follow")
    core.ok(admin, "PUT", f"/users/{uid}/ban", json={"reason": "spam"})
    assert core.row(User, uid).banned
    core.ok(admin, "DELETE", f"/users/{uid}/ban")
    assert not core.row(User, uid).banned
    core.ok(admin, "DELETE", f"/users/{uid}")
    assert core.row(User, uid) is None


def test_own_tokens(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    minted = core.ok(token, "POST", f"/users/{uid}/tokens")["token"]
    assert core.ok(minted, "POST", "/ping", json={"hello": 1}) == {
        "uid": uid,
        "received": {"hello": 1},
    }
    core.ok(token, "DELETE", f"/users/{uid}/tokens/{minted}")
    assert core.refused(token, "DELETE", f"/users/{uid}/tokens/{minted}", 404) \
        == "[[error:no-token]]"  # fmt: skip


def test_categories_and_groups(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    admin = core.stack.admin_token
    category = core.ok(admin, "POST", "/categories", json={"name": "Core category"})
    cid = category["cid"]
    core.ok(admin, "PUT", f"/categories/{cid}", json={"description": "Described"})
    assert core.row(Category, cid).description == "Described"
    core.refused(admin, "PUT", f"/categories/{cid}", 400, json={"topic_count": 5})
    core.ok(admin, "DELETE", f"/categories/{cid}")
    assert core.row(Category, cid) is None

    name = unique("Group ")
    group = core.ok(admin, "POST", "/groups", json={"name": name, "private": False})
    slug = group["slug"]
    core.ok(token, "PUT", f"/groups/{slug}/membership/{uid}")
    assert core.count(GroupMember.group_name == name, GroupMember.uid == uid) == 1
    core.ok(token, "DELETE", f"/groups/{slug}/membership/{uid}")
    assert core.count(GroupMember.group_name == name, GroupMember.uid == uid) == 0
    core.ok(admin, "DELETE", f"/groups/{slug}")
    assert core.row(Group, name) is None


def test_a_job_past_the_wait_is_202_accepted(core: Core, member: tuple[int, str]) -> None:
    _, token = member
    body = {"cid": core.stack.cid, "title": "Later", "content": CONTENT}
    with core.client(token, Prefer="respond-async") as client:
        answer = client.post("/topics", json=body)
    assert answer.status_code == 202, answer.text
    envelope = answer.json()
    assert envelope["status"] == {"code": "accepted", "message": "Accepted"}
    job = envelope["response"]
    assert job["queued"] is True and job["links"]["self"] == f"/api/jobs/{job['job_id']}"
    with core.stack.client(token, Prefer="wait=20") as client:
        # A job reads in the envelope of the router that made it.
        done = client.get(job["links"]["self"]).json()["response"]
    assert done["state"] == "succeeded"
    # The job's result is the body the synchronous v3 route answers.
    assert done["result"]["status"]["code"] == "ok"
    assert done["result"]["response"]["mainPost"]["tid"] == done["result"]["response"]["tid"]


def test_concurrent_topics_by_one_user_are_all_accepted(core: Core) -> None:
    """Core answers a second concurrent create 400 ``already-posting``; forumq applies both."""
    uid, token = user_with_token(core.stack.database_url)
    titles = [f"Parallel {n} {uuid.uuid4().hex[:6]}" for n in range(6)]
    bodies = [{"cid": core.stack.cid, "title": t, "content": CONTENT} for t in titles]
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda body: core.call(token, "POST", "/topics", json=body),
                                bodies))  # fmt: skip
    assert [answer.status_code for answer in answers] == [200] * len(bodies)
    assert core.count(Topic.uid == uid) == len(bodies)


def test_session_routes_answer_401_and_say_so(core: Core, member: Any) -> None:
    _, token = member
    for method, path in (("POST", "/utilities/login"), ("POST", "/users/reauth/verify")):
        message = core.refused(token, method, path, 401, json={"username": "a", "password": "b"})
        assert "Bearer" in message


def test_the_embedded_default_speaks_v3_too(embedded_stack: Stack) -> None:
    core = Core(embedded_stack)
    uid, token = user_with_token(embedded_stack.database_url)
    topic = core.topic(token)
    reply = core.ok(token, "POST", f"/topics/{topic['tid']}", json={"content": CONTENT})
    assert reply["uid"] == uid
    short = {"cid": embedded_stack.cid, "title": "x", "content": "tiny"}
    message = core.refused(token, "POST", "/topics", 400, json=short)
    assert message.startswith("[[error:content-too-short")


def test_category_privileges_and_moderators(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    admin = core.stack.admin_token
    cid = core.ok(admin, "POST", "/categories", json={"name": unique("Privileged ")})["cid"]
    tid = core.topic(token, cid=cid)["tid"]
    assert "no-privileges" in core.refused(token, "PUT", f"/topics/{tid}/pin", 403)
    core.ok(admin, "PUT", f"/categories/{cid}/moderator/{uid}")
    core.ok(token, "PUT", f"/topics/{tid}/pin")  # a moderator of the category now
    assert core.row(Topic, tid).pinned
    core.ok(admin, "DELETE", f"/categories/{cid}/moderator/{uid}")
    assert "no-privileges" in core.refused(token, "DELETE", f"/topics/{tid}/pin", 403)

    path = f"/categories/{cid}/privileges/topics:create"
    core.ok(admin, "DELETE", path, json={"member": "registered-users"})
    body = {"cid": cid, "title": "Not allowed", "content": CONTENT}
    assert "no-privileges" in core.refused(token, "POST", "/topics", 403, json=body)
    core.ok(admin, "PUT", path, json={"member": str(uid)})  # to the user alone
    core.topic(token, cid=cid)
    core.ok(admin, "DELETE", f"{path}/{uid}")
    core.refused(token, "POST", "/topics", 403, json=body)
    core.refused(admin, "PUT", path, 400, json={})
    assert core.refused(token, "PUT", path, 403, json={"member": str(uid)}).endswith("]]")


def test_lock_tags_and_move(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    admin = core.stack.admin_token
    tid = core.topic(token, tags=["first"])["tid"]
    added = core.ok(token, "PATCH", f"/topics/{tid}/tags", json={"tags": ["second"]})
    assert sorted(tag["value"] for tag in added) == ["first", "second"]
    assert core.count(TopicTag.tid == tid) == 2

    assert "no-privileges" in core.refused(token, "PUT", f"/topics/{tid}/lock", 403)
    core.ok(admin, "PUT", f"/topics/{tid}/lock")
    assert core.row(Topic, tid).locked
    locked = core.refused(token, "POST", f"/topics/{tid}", 400, json={"content": CONTENT})
    assert locked == "[[error:topic-locked]]"
    core.ok(admin, "DELETE", f"/topics/{tid}/lock")
    core.ok(token, "POST", f"/topics/{tid}", json={"content": CONTENT})

    target = core.ok(admin, "POST", "/categories", json={"name": unique("Target ")})["cid"]
    source = core.row(Category, core.stack.cid)
    assert "no-privileges" in core.refused(token, "PUT", f"/topics/{tid}/move", 403,
                                           json={"cid": target})  # fmt: skip
    core.ok(admin, "PUT", f"/topics/{tid}/move", json={"cid": target})
    assert core.row(Topic, tid).cid == target
    moved_to, moved_from = core.row(Category, target), core.row(Category, core.stack.cid)
    assert (moved_to.topic_count, moved_to.post_count) == (1, 2)
    assert moved_from.topic_count == source.topic_count - 1
    assert moved_from.post_count == source.post_count - 2
    assert core.refused(admin, "PUT", f"/topics/{tid}/move", 400, json={"cid": 987654321}) \
        == "[[error:no-category]]"  # fmt: skip
    assert uid


def test_admin_tokens(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    admin = core.stack.admin_token
    assert "no-privileges" in core.refused(token, "POST", "/admin/tokens", 403, json={"uid": uid})
    created = core.ok(admin, "POST", "/admin/tokens", json={"uid": uid, "description": "ci"})
    secret = created["token"]
    assert created["uid"] == uid
    assert core.ok(secret, "POST", "/ping")["uid"] == uid
    rolled = core.ok(admin, "POST", f"/admin/tokens/{secret}/roll")["token"]
    assert rolled != secret and core.ok(rolled, "POST", "/ping")["uid"] == uid
    fingerprint = hashlib.sha256(rolled.encode()).hexdigest()
    core.ok(admin, "DELETE", f"/admin/tokens/{fingerprint}")
    assert core.refused(admin, "DELETE", f"/admin/tokens/{rolled}", 404) == "[[error:no-token]]"
    core.refused(admin, "POST", "/admin/tokens", 400, json={"uid": 0})  # masters: the CLI
    # A revoked token stops working once the API's token cache forgets it (2 s).
    with core.client(rolled) as client:
        deadline = time.monotonic() + 10
        while client.post("/ping").status_code != 401:
            assert time.monotonic() < deadline, "the revoked token still works"
            time.sleep(0.5)


def test_chat_room_messages(core: Core, member: tuple[int, str]) -> None:
    uid, token = member
    other, others = user_with_token(core.stack.database_url)
    outsider, outsiders = user_with_token(core.stack.database_url)
    with core.stack.client(token) as client:
        opened = client.post(f"/api/v2/users/{other}/chats", json={"message": "Hello"})
    room = opened.json()["payload"]["roomId"]
    sent = core.ok(others, "POST", f"/chats/{room}", json={"message": "Hi back"})
    assert (sent["roomId"], sent["fromuid"], sent["content"]) == (room, other, "Hi back")
    with core.stack.session() as session:
        assert session.get(ChatRoom, room).message_count == 2
    assert "no-privileges" in core.refused(outsiders, "POST", f"/chats/{room}", 403,
                                           json={"message": "Let me in"})  # fmt: skip
    assert core.refused(token, "POST", "/chats/987654321", 404, json={"message": "x"}) \
        == "[[error:chat-room-does-not-exist]]"  # fmt: skip
    core.refused(token, "POST", f"/chats/{room}", 400, json={"message": " "})
    assert uid != outsider

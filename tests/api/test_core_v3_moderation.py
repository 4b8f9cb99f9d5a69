"""Core's v3 moderation and history routes: user mute, topic ignore, pin expiry, post
move, post owner change and post edit history (diffs). Each answer is checked against
core's ``write.yaml``; the rows are checked after each write, and a refused write
leaves them as they were."""

import time
from typing import Any

import pytest
from sqlalchemy import update

from forum.db import transaction
from forum.groups import add_member
from forum.models import Category, ChatRoom, Post, PostDiff, Topic, TopicFollow, TopicIgnore, User
from forum.privileges import GLOBAL_MODERATORS
from tests.core_v3 import CONTENT, Core
from tests.support import Stack, new_category, user_with_token

HOUR_MS = 3_600_000


@pytest.fixture
def other(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


def global_moderator(stack: Stack) -> tuple[int, str]:
    uid, token = user_with_token(stack.database_url)
    with transaction(stack.database_url) as session:
        add_member(session, GLOBAL_MODERATORS, uid)
    return uid, token


def posts_of(core: Core, uid: int) -> tuple[int, int]:
    user = core.row(User, uid)
    return user.postcount, user.topiccount


# --- mute ----------------------------------------------------------------------------


def test_a_muted_user_may_not_post_until_unmuted(core: Core, member: Any) -> None:
    uid, token = member
    admin = core.stack.admin_token
    tid = core.topic(token)["tid"]
    until = int(time.time() * 1000) + 2 * HOUR_MS
    assert (
        core.ok(admin, "PUT", f"/users/{uid}/mute", json={"until": until, "reason": "calm"}) == {}
    )
    user = core.row(User, uid)
    assert (user.muted, user.muted_until, user.muted_reason) == (True, until, "calm")
    before = posts_of(core, uid)
    message = core.refused(token, "POST", f"/topics/{tid}", 400, json={"content": CONTENT})
    assert message == "[[error:user-muted-for-hours, 2]]"
    assert "user-muted-for-hours" in core.refused(token, "POST", "/topics", 400, json={
        "cid": core.stack.cid, "title": "Muted title", "content": CONTENT})  # fmt: skip
    assert posts_of(core, uid) == before
    shown = core.ok(token, "GET", f"/users/{uid}")
    assert (shown["muted"], shown["mutedUntil"], shown["mutedReason"]) == (True, until, "calm")
    assert core.ok(admin, "DELETE", f"/users/{uid}/mute") == {}
    assert not core.row(User, uid).muted
    core.ok(token, "POST", f"/topics/{tid}", json={"content": CONTENT})
    assert posts_of(core, uid)[0] == before[0] + 1
    assert core.ok(token, "GET", f"/users/{uid}")["muted"] is False


def test_a_muted_user_may_not_chat_in_a_room(core: Core, member: Any, other: Any) -> None:
    uid, token = member
    other_uid, _ = other
    with core.stack.client(token) as client:
        opened = client.post(f"/api/v2/users/{other_uid}/chats", json={"message": "Hello"})
    room = opened.json()["payload"]["roomId"]
    core.ok(core.stack.admin_token, "PUT", f"/users/{uid}/mute")
    message = core.refused(token, "POST", f"/chats/{room}", 400, json={"message": "Still here"})
    assert message == "[[error:user-muted-indefinitely]]"
    with core.stack.session() as session:
        assert session.get(ChatRoom, room).message_count == 1


def test_a_mute_without_an_end_lasts_and_an_ended_one_no_longer_mutes(
    core: Core, member: Any
) -> None:
    uid, token = member
    admin = core.stack.admin_token
    tid = core.topic(token)["tid"]
    core.ok(admin, "PUT", f"/users/{uid}/mute")
    message = core.refused(token, "POST", f"/topics/{tid}", 400, json={"content": CONTENT})
    assert message == "[[error:user-muted-indefinitely]]"
    assert core.row(User, uid).muted_reason == "[[user:info.muted-no-reason]]"
    # A mute past its end mutes no more (NodeBB lifts it lazily).
    with transaction(core.stack.database_url) as session:
        session.execute(update(User).where(User.uid == uid).values(muted_until=1))
    core.ok(token, "POST", f"/topics/{tid}", json={"content": CONTENT})
    assert core.ok(token, "GET", f"/users/{uid}")["muted"] is False


def test_muting_is_for_admins_and_global_moderators(core: Core, member: Any, other: Any) -> None:
    uid, token = member
    target, _ = other
    assert "no-privileges" in core.refused(token, "PUT", f"/users/{target}/mute", 403)
    assert "no-privileges" in core.refused(token, "DELETE", f"/users/{target}/mute", 403)
    assert not core.row(User, target).muted
    _, moderator = global_moderator(core.stack)
    core.ok(moderator, "PUT", f"/users/{target}/mute", json={"reason": "by a moderator"})
    assert core.row(User, target).muted
    message = core.refused(moderator, "PUT", f"/users/{core.stack.admin_uid}/mute", 400)
    assert message == "[[error:cant-mute-other-admins]]"
    assert "no-user" in core.refused(core.stack.admin_token, "PUT", "/users/987654321/mute", 404)
    assert "no-user" in core.refused(token, "DELETE", "/users/987654321/mute", 404)
    assert not core.row(User, uid).muted


@pytest.mark.parametrize("body", [{"until": "soon"}, {"until": -5}, {"reason": "x" * 1001},
                                  {"reason": {"an": "object"}}])  # fmt: skip
def test_a_bad_mute_is_refused_and_mutes_nobody(core: Core, member: Any, body: Any) -> None:
    uid, _ = member
    answer = core.call(core.stack.admin_token, "PUT", f"/users/{uid}/mute", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["status"]["code"] == "bad-request"
    assert not core.row(User, uid).muted


# --- ignore --------------------------------------------------------------------------


def unread_tids(core: Core, token: str) -> set[int]:
    with core.stack.client(token) as client:
        answer = client.get("/api/unread")
    assert answer.status_code == 200, answer.text
    return {topic["tid"] for topic in answer.json()["topics"]}


def test_an_ignored_topic_leaves_the_unread_list(core: Core, member: Any, other: Any) -> None:
    _, author = member
    uid, token = other
    tid = core.topic(author)["tid"]
    assert tid in unread_tids(core, token)
    core.ok(token, "PUT", f"/topics/{tid}/follow")
    assert core.ok(token, "PUT", f"/topics/{tid}/ignore") == {}
    # Ignoring unfollows (NodeBB's setWatching: one of following, ignoring, neither).
    assert core.count(TopicIgnore.tid == tid, TopicIgnore.uid == uid) == 1
    assert core.count(TopicFollow.tid == tid, TopicFollow.uid == uid) == 0
    assert core.row(Topic, tid).followercount == 0
    assert tid not in unread_tids(core, token)
    assert core.ok(token, "DELETE", f"/topics/{tid}/ignore") == {}
    assert core.count(TopicIgnore.tid == tid, TopicIgnore.uid == uid) == 0
    assert tid in unread_tids(core, token)
    # The topic page says so (opening it reads the topic: last, as it leaves unread).
    core.ok(token, "PUT", f"/topics/{tid}/ignore")
    with core.stack.client(token) as client:
        page = client.get(f"/api/topic/{tid}").json()
    assert page["isIgnoring"] is True and page["isFollowing"] is False
    # Following stops ignoring.
    core.ok(token, "PUT", f"/topics/{tid}/follow")
    assert core.count(TopicIgnore.tid == tid, TopicIgnore.uid == uid) == 0
    assert core.count(TopicFollow.tid == tid, TopicFollow.uid == uid) == 1
    assert "no-topic" in core.refused(token, "PUT", "/topics/987654321/ignore", 404)
    assert "no-topic" in core.refused(token, "PUT", "/topics/x1/ignore", 404)


def test_ignores_go_with_their_topic(core: Core, member: Any, other: Any) -> None:
    _, author = member
    _uid, token = other
    tid = core.topic(author)["tid"]
    core.ok(token, "PUT", f"/topics/{tid}/ignore")
    core.ok(core.stack.admin_token, "DELETE", f"/topics/{tid}")
    assert core.row(Topic, tid) is None
    assert core.count(TopicIgnore.tid == tid) == 0


# --- pin expiry ------------------------------------------------------------------------


def category_tids(core: Core, token: str, cid: int) -> list[tuple[int, int, int]]:
    topics = core.ok(token, "GET", f"/categories/{cid}/topics")["topics"]
    return [(t["tid"], t["pinned"], t["pinExpiry"]) for t in topics]


def test_a_pin_with_an_expiry_stops_pinning_when_it_ends(core: Core, member: Any) -> None:
    _, token = member
    admin = core.stack.admin_token
    cid = new_category(core.stack.database_url, "Pins")
    first, second = (
        core.ok(token, "POST", "/topics", json={"cid": cid, "title": title, "content": CONTENT})[
            "tid"
        ]
        for title in ("First topic", "Second topic")
    )
    assert [t[0] for t in category_tids(core, token, cid)] == [second, first]
    past = int(time.time() * 1000) - 1000
    assert "invalid-data" in core.refused(admin, "PUT", f"/topics/{first}/pin", 400,
                                          json={"expiry": past})  # fmt: skip
    assert not core.row(Topic, first).pinned
    assert "no-privileges" in core.refused(token, "PUT", f"/topics/{first}/pin", 403,
                                           json={"expiry": past + 2 * HOUR_MS})  # fmt: skip
    expiry = int(time.time() * 1000) + HOUR_MS
    assert core.ok(admin, "PUT", f"/topics/{first}/pin", json={"expiry": expiry}) == {}
    assert (core.row(Topic, first).pinned, core.row(Topic, first).pin_expiry) == (True, expiry)
    assert category_tids(core, token, cid) == [(first, 1, expiry), (second, 0, 0)]
    shown = core.ok(token, "GET", f"/topics/{first}")
    assert (shown["pinned"], shown["pinExpiry"]) == (1, expiry)
    # The pin ends: the topic is back in its place by last reply, and reads say unpinned.
    with transaction(core.stack.database_url) as session:
        session.execute(update(Topic).where(Topic.tid == first).values(pin_expiry=past))
    assert category_tids(core, token, cid) == [(second, 0, 0), (first, 0, 0)]
    assert core.ok(token, "GET", f"/topics/{first}")["pinned"] == 0
    # Unpinning drops the expiry; a pin without one lasts.
    core.ok(admin, "PUT", f"/topics/{first}/pin", json={"expiry": expiry})
    core.ok(admin, "DELETE", f"/topics/{first}/pin")
    assert (core.row(Topic, first).pinned, core.row(Topic, first).pin_expiry) == (False, 0)
    core.ok(admin, "PUT", f"/topics/{first}/pin")
    assert category_tids(core, token, cid)[0] == (first, 1, 0)
    answer = core.call(admin, "PUT", f"/topics/{second}/pin", json={"expiry": "tomorrow"})
    assert answer.status_code == 400 and not core.row(Topic, second).pinned


# --- post move -------------------------------------------------------------------------


def test_a_reply_moves_to_another_topic_with_its_counters(
    core: Core, member: Any, other: Any
) -> None:
    uid, token = member
    other_uid, other_token = other
    admin = core.stack.admin_token
    cid = new_category(core.stack.database_url, "Move target")
    source = core.topic(token)
    target = core.ok(token, "POST", "/topics",
                     json={"cid": cid, "title": "Target topic", "content": CONTENT})  # fmt: skip
    pid = core.ok(other_token, "POST", f"/topics/{source['tid']}", json={"content": CONTENT})["pid"]
    assert core.row(Topic, source["tid"]).postercount == 2
    before = {c: core.row(Category, c).post_count for c in (core.stack.cid, cid)}
    assert "no-privileges" in core.refused(token, "PUT", f"/posts/{pid}/move", 403,
                                           json={"tid": target["tid"]})  # fmt: skip
    assert core.row(Post, pid).tid == source["tid"]
    assert core.ok(admin, "PUT", f"/posts/{pid}/move", json={"tid": target["tid"]}) == {}
    assert core.row(Post, pid).tid == target["tid"]
    moved_from, moved_to = core.row(Topic, source["tid"]), core.row(Topic, target["tid"])
    assert (moved_from.postcount, moved_from.postercount, moved_from.teaser_pid) == (1, 1, None)
    assert (moved_to.postcount, moved_to.postercount, moved_to.teaser_pid) == (2, 2, pid)
    assert core.row(Category, core.stack.cid).post_count == before[core.stack.cid] - 1
    assert core.row(Category, cid).post_count == before[cid] + 1
    assert core.count(Post.tid == target["tid"], Post.uid == other_uid) == 1
    # The refusals, each leaving the post where it is.
    assert "cant-move-mainpost" in core.refused(
        admin, "PUT", f"/posts/{source['mainPid']}/move", 400, json={"tid": target["tid"]}
    )
    assert "cant-move-to-same-topic" in core.refused(
        admin, "PUT", f"/posts/{pid}/move", 400, json={"tid": target["tid"]}
    )
    assert "no-topic" in core.refused(admin, "PUT", f"/posts/{pid}/move", 404,
                                      json={"tid": 987654321})  # fmt: skip
    assert "no-post" in core.refused(admin, "PUT", "/posts/987654321/move", 404,
                                     json={"tid": target["tid"]})  # fmt: skip
    assert "required-parameters-missing" in core.refused(admin, "PUT", f"/posts/{pid}/move", 400)
    assert core.row(Post, pid).tid == target["tid"]
    assert uid != other_uid


# --- post owner ------------------------------------------------------------------------


def test_a_post_changes_owner_with_its_counts(core: Core, member: Any, other: Any) -> None:
    uid, token = member
    new_owner, _ = other
    admin = core.stack.admin_token
    topic = core.topic(token)
    pid = core.ok(token, "POST", f"/topics/{topic['tid']}", json={"content": CONTENT})["pid"]
    assert posts_of(core, uid) == (2, 1) and posts_of(core, new_owner) == (0, 0)
    assert "no-privileges" in core.refused(token, "PUT", f"/posts/{pid}/owner", 403,
                                           json={"uid": new_owner})  # fmt: skip
    assert core.ok(admin, "PUT", f"/posts/{pid}/owner", json={"uid": new_owner}) == {}
    assert core.row(Post, pid).uid == new_owner
    assert posts_of(core, uid) == (1, 1) and posts_of(core, new_owner) == (1, 0)
    assert core.row(Topic, topic["tid"]).postercount == 2
    # The main post: the topic changes owner too.
    _, moderator = global_moderator(core.stack)
    core.ok(moderator, "POST", "/posts/owner", json={"pids": [topic["mainPid"]], "uid": new_owner})
    assert core.row(Topic, topic["tid"]).uid == new_owner
    assert posts_of(core, uid) == (0, 0) and posts_of(core, new_owner) == (2, 1)
    assert core.row(Topic, topic["tid"]).postercount == 1
    # Refusals leave every post where it was.
    assert "no-user" in core.refused(admin, "PUT", f"/posts/{pid}/owner", 404,
                                     json={"uid": 987654321})  # fmt: skip
    assert "no-post" in core.refused(admin, "POST", "/posts/owner", 404,
                                     json={"pids": [pid, 987654321], "uid": uid})  # fmt: skip
    assert "no-post" in core.refused(admin, "PUT", "/posts/987654321/owner", 404,
                                     json={"uid": uid})  # fmt: skip
    assert core.row(Post, pid).uid == new_owner
    for body in ({"pids": [], "uid": uid}, {"pids": "1", "uid": uid}, {"uid": uid}):
        answer = core.call(admin, "POST", "/posts/owner", json=body)
        assert answer.status_code == 400, answer.text
    assert posts_of(core, new_owner) == (2, 1)


# --- diffs ---------------------------------------------------------------------------


def test_edits_keep_a_history_that_reads_restores_and_deletes(
    core: Core, member: Any, other: Any
) -> None:
    uid, token = member
    _, other_token = other
    admin = core.stack.admin_token
    topic = core.topic(token, tags=["first"])
    pid, tid = topic["mainPid"], topic["tid"]
    original = core.row(Post, pid)
    assert core.ok(token, "GET", f"/posts/{pid}/diffs")["timestamps"] == [str(original.timestamp)]
    core.ok(token, "PUT", f"/posts/{pid}", json={"content": "Second version of the post"})
    core.ok(
        token,
        "PUT",
        f"/posts/{pid}",
        json={"content": "Third version of the post", "title": "Renamed", "tags": ["third"]},
    )
    core.ok(token, "PUT", f"/posts/{pid}", json={"content": "Third version of the post"})
    assert core.count(PostDiff.pid == pid) == 2  # nothing changed: no version kept
    history = core.ok(token, "GET", f"/posts/{pid}/diffs")
    stamps = history["timestamps"]
    assert len(stamps) == 3 and stamps[-1] == str(original.timestamp)
    assert stamps == sorted(stamps, key=int, reverse=True)
    assert [r["uid"] for r in history["revisions"]] == [uid, uid, uid]
    assert (history["editable"], history["deletable"]) == (True, False)
    assert core.ok(other_token, "GET", f"/posts/{pid}/diffs")["editable"] is False

    first = core.ok(token, "GET", f"/posts/{pid}/diffs/{original.timestamp}")
    assert CONTENT in first["content"] and first["topic"]["titleRaw"] == topic["titleRaw"]
    assert [t["value"] for t in first["topic"]["tags"]] == ["first"]
    second = core.ok(token, "GET", f"/posts/{pid}/diffs/{stamps[1]}")
    assert "Second version" in second["content"] and second["topic"]["titleRaw"] != "Renamed"
    latest = core.ok(token, "GET", f"/posts/{pid}/diffs/{stamps[0]}")
    assert "Third version" in latest["content"] and latest["topic"]["titleRaw"] == "Renamed"

    # Restore the first version: content, title and tags; the restore is kept too.
    assert core.ok(token, "PUT", f"/posts/{pid}/diffs/{original.timestamp}") == {}
    assert core.row(Post, pid).content == CONTENT
    assert core.row(Topic, tid).title == topic["titleRaw"]
    assert core.count(PostDiff.pid == pid) == 3
    assert "no-privileges" in core.refused(other_token, "PUT", f"/posts/{pid}/diffs/{stamps[1]}",
                                           403)  # fmt: skip
    assert core.row(Post, pid).content == CONTENT

    # Deleting a version: moderators only; the newest (the post as it is) cannot go.
    assert "no-privileges" in core.refused(token, "DELETE", f"/posts/{pid}/diffs/{stamps[1]}", 403)
    after = core.ok(admin, "DELETE", f"/posts/{pid}/diffs/{stamps[1]}")
    assert stamps[1] not in after["timestamps"] and len(after["timestamps"]) == 3
    assert after["deletable"] is True
    # The version before the deleted one is still what the next edit replaced.
    assert "Second version" not in core.ok(token, "GET", f"/posts/{pid}/diffs/{stamps[2]}")[
        "content"]  # fmt: skip
    newest = after["timestamps"][0]
    assert "invalid-data" in core.refused(admin, "DELETE", f"/posts/{pid}/diffs/{newest}", 400)
    assert "invalid-data" in core.refused(admin, "DELETE", f"/posts/{pid}/diffs/123", 400)
    assert "invalid-data" in core.refused(admin, "DELETE", f"/posts/{pid}/diffs/soon", 400)
    assert "invalid-data" in core.refused(token, "GET", f"/posts/{pid}/diffs/soon", 400)
    assert "invalid-data" in core.refused(token, "PUT", f"/posts/{pid}/diffs/soon", 400)
    assert "no-post" in core.refused(token, "GET", "/posts/987654321/diffs", 404)
    assert "no-post" in core.refused(token, "GET", "/posts/987654321/diffs/0", 404)
    assert "no-post" in core.refused(admin, "DELETE", "/posts/987654321/diffs/1", 404)
    assert core.count(PostDiff.pid == pid) == 2
    # The original's timestamp drops the oldest version kept.
    core.ok(admin, "DELETE", f"/posts/{pid}/diffs/{original.timestamp}")
    assert core.count(PostDiff.pid == pid) == 1
    core.ok(admin, "DELETE", f"/posts/{pid}")  # a purge takes the history with it
    assert core.count(PostDiff.pid == pid) == 0


def test_a_reply_edit_through_the_plugin_routes_is_kept_too(core: Core, member: Any) -> None:
    uid, token = member
    tid = core.topic(token)["tid"]
    pid = core.ok(token, "POST", f"/topics/{tid}", json={"content": CONTENT})["pid"]
    with core.stack.client(token) as client:
        answer = client.put(f"/api/v2/posts/{pid}", json={"content": "Edited through v2"})
    assert answer.status_code == 200, answer.text
    history = core.ok(token, "GET", f"/posts/{pid}/diffs")
    assert len(history["timestamps"]) == 2
    shown = core.ok(token, "GET", f"/posts/{pid}/diffs/{history['timestamps'][1]}")
    assert CONTENT in shown["content"] and uid == shown["uid"]

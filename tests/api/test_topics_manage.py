"""Topic management over HTTP through the queue: edit via the topic, delete (v1 soft,
v2 purge), state, follow, tags and pins, with the database checked after each write.
"""

import httpx

from forum.models import Category, Post, Topic, TopicFollow, User
from tests.support import CONTENT, Forum, Stack, refusal


def test_edit_through_the_topic(stack: Stack) -> None:
    forum = Forum(stack)
    owner, other = forum.user(), forum.user()
    tid, main = forum.topic(owner, tags=["alpha"])
    body = {"pid": main, "content": "Edited content here", "title": "Edited title",
            "tags": ["beta", "gamma"]}  # fmt: skip
    with forum.master(other) as client:
        refused = client.put(f"/api/v1/topics/{tid}", json=body)
    assert refusal(refused) == (403, "forbidden", "no-privileges")
    assert forum.row(Post, main).content == CONTENT and forum.tags(tid) == ["alpha"]
    with forum.token(owner) as client:
        edited = client.put(f"/api/v1/topics/{tid}", json=body)
    assert edited.status_code == 200, edited.text
    payload = edited.json()["payload"]
    assert payload["topic"]["renamed"] is True and payload["topic"]["title"] == "Edited title"
    assert payload["editor"]["uid"] == owner
    topic, post = forum.row(Topic, tid), forum.row(Post, main)
    assert topic.title == "Edited title" and topic.slug == f"{tid}/edited-title"
    assert post.content == "Edited content here" and post.editor == owner and post.edited
    assert forum.tags(tid) == ["beta", "gamma"]
    # The admin may edit anyone's post, through v2 too.
    with forum.admin() as client:
        by_admin = client.put(f"/api/v2/topics/{tid}", json={"pid": main, "content": CONTENT})
    assert by_admin.status_code == 200 and forum.row(Post, main).editor == stack.admin_uid


def test_edit_errors_leave_the_post_unchanged(stack: Stack) -> None:
    forum = Forum(stack)
    owner = forum.user()
    tid, main = forum.topic(owner)
    other_tid, other_main = forum.topic(owner)
    with forum.master(owner) as client:
        missing = client.put(f"/api/v1/topics/{tid}", json={"content": CONTENT})
        wrong_topic = client.put(
            f"/api/v1/topics/{tid}", json={"pid": other_main, "content": "Moved here?"}
        )
        no_topic = client.put("/api/v1/topics/99999999", json={"pid": main, "content": CONTENT})
        short = client.put(f"/api/v2/topics/{tid}", json={"pid": main, "content": "tiny"})
        not_numeric = client.put("/api/v2/topics/abc", json={"pid": main, "content": CONTENT})
    with forum.master() as client:
        no_uid = client.put(f"/api/v1/topics/{tid}", json={"pid": main, "content": CONTENT})
    anonymous = httpx.put(f"{stack.base_url}/api/v1/topics/{tid}",
                          json={"pid": main, "content": CONTENT})  # fmt: skip
    assert missing.status_code == 400 and missing.json()["code"] == "params-missing"
    assert missing.json()["params"] == ["pid"]
    assert refusal(wrong_topic) == (400, "bad-request", "invalid-pid")  # spec decision 5
    assert no_topic.status_code == 404 and not_numeric.status_code == 404
    assert refusal(short) == (400, "bad-request", "content-too-short")
    assert no_uid.status_code == 400 and no_uid.json()["params"] == ["_uid"]
    assert anonymous.status_code == 401
    assert forum.row(Post, main).edited == 0 and forum.row(Post, other_main).edited == 0
    assert forum.row(Post, other_main).content == CONTENT and other_tid


def test_v1_delete_is_soft_and_v2_delete_purges(stack: Stack) -> None:
    forum = Forum(stack)
    owner, other = forum.user(), forum.user()
    tid, _ = forum.topic(owner)
    forum.reply(other, tid)
    with forum.master(other) as client:
        refused = client.delete(f"/api/v1/topics/{tid}")
    assert refusal(refused) == (403, "forbidden", "no-privileges")
    assert not forum.row(Topic, tid).deleted
    category_before = forum.row(Category, stack.cid)
    with forum.master(owner) as client:
        soft = client.delete(f"/api/v1/topics/{tid}")
        again = client.delete(f"/api/v1/topics/{tid}")
    assert soft.status_code == 200 and soft.json() == {"code": "ok", "payload": {}}
    assert refusal(again) == (400, "bad-request", "topic-already-deleted")
    topic = forum.row(Topic, tid)
    assert topic.deleted and topic.deleter_uid == owner and topic.postcount == 2
    category = forum.row(Category, stack.cid)  # a soft delete keeps every count
    assert (category.topic_count, category.post_count) == (
        category_before.topic_count,
        category_before.post_count,
    )
    # v2: the owner lacks ``purge`` (admins and global moderators hold it).
    with forum.master(owner) as client:
        not_allowed = client.delete(f"/api/v2/topics/{tid}")
    assert refusal(not_allowed) == (403, "forbidden", "no-privileges")
    with forum.admin() as client:
        purged = client.delete(f"/api/v2/topics/{tid}")
        gone = client.delete(f"/api/v2/topics/{tid}")
    assert purged.status_code == 200 and gone.status_code == 404
    assert forum.row(Topic, tid) is None and forum.count(Post.tid == tid) == 0
    category = forum.row(Category, stack.cid)
    assert category.topic_count == category_before.topic_count - 1
    assert category.post_count == category_before.post_count - 2
    owner_row, other_row = forum.row(User, owner), forum.row(User, other)
    assert (owner_row.topiccount, owner_row.postcount, other_row.postcount) == (0, 0, 0)


def test_v2_state_restores_and_soft_deletes(stack: Stack) -> None:
    forum = Forum(stack)
    owner, other = forum.user(), forum.user()
    tid, _ = forum.topic(owner)
    with forum.master(other) as client:
        assert client.delete(f"/api/v2/topics/{tid}/state").status_code == 403
    with forum.master(owner) as client:
        deleted = client.delete(f"/api/v2/topics/{tid}/state")
        assert forum.row(Topic, tid).deleted
        restored = client.put(f"/api/v2/topics/{tid}/state")
        twice = client.put(f"/api/v2/topics/{tid}/state")
        unknown = client.put("/api/v2/topics/99999999/state")
        v1_state = client.put(f"/api/v1/topics/{tid}/state")
    assert deleted.status_code == 200 and restored.status_code == 200
    assert not forum.row(Topic, tid).deleted
    assert refusal(twice) == (400, "bad-request", "topic-already-restored")
    assert unknown.status_code == 404 and v1_state.status_code == 404  # v2 only


def test_follow_and_unfollow_on_both_versions(stack: Stack) -> None:
    forum = Forum(stack)
    owner, fan = forum.user(), forum.user()
    tid, _ = forum.topic(owner)
    with forum.master(fan) as client:
        assert client.post(f"/api/v1/topics/{tid}/follow").status_code == 200
        assert client.put(f"/api/v2/topics/{tid}/follow").status_code == 200  # idempotent
        assert forum.row(Topic, tid).followercount == 1
        assert forum.count(TopicFollow.tid == tid, TopicFollow.uid == fan) == 1
        assert client.delete(f"/api/v2/topics/{tid}/follow").status_code == 200
        assert client.delete(f"/api/v1/topics/{tid}/follow").status_code == 200
        wrong_verb = client.put(f"/api/v1/topics/{tid}/follow")
        unknown = client.post("/api/v1/topics/99999999/follow")
    assert forum.row(Topic, tid).followercount == 0
    assert forum.count(TopicFollow.tid == tid) == 0
    assert wrong_verb.status_code == 404 and unknown.status_code == 404


def test_tags_replace_and_clear(stack: Stack) -> None:
    forum = Forum(stack)
    owner, other = forum.user(), forum.user()
    tid, _ = forum.topic(owner, tags=["alpha", "beta"])
    with forum.master(other) as client:
        refused = client.post(f"/api/v1/topics/{tid}/tags", json={"tags": ["hijack"]})
    assert refusal(refused) == (403, "forbidden", "no-privileges")
    assert forum.tags(tid) == ["alpha", "beta"]
    with forum.master(owner) as client:
        v1 = client.post(f"/api/v1/topics/{tid}/tags", json={"tags": ["Gamma", "delta"]})
        assert v1.status_code == 200 and forum.tags(tid) == ["delta", "gamma"]  # replaced
        v2 = client.put(f"/api/v2/topics/{tid}/tags", data={"tags": "epsilon"})  # a form
        assert v2.status_code == 200 and forum.tags(tid) == ["epsilon"]
        missing = client.put(f"/api/v2/topics/{tid}/tags", json={})
        empty = client.put(f"/api/v2/topics/{tid}/tags", json={"tags": []})
        too_many = client.put(f"/api/v2/topics/{tid}/tags",
                              json={"tags": [f"tag{i}" for i in range(6)]})  # fmt: skip
        cleared = client.delete(f"/api/v1/topics/{tid}/tags")
    assert missing.status_code == 400 and missing.json()["code"] == "params-missing"
    assert empty.status_code == 400 and empty.json()["params"] == ["tags"]
    assert refusal(too_many) == (400, "bad-request", "too-many-tags")
    assert cleared.status_code == 200 and forum.tags(tid) == []


def test_v2_pin_is_for_moderators_and_admins(stack: Stack) -> None:
    forum = Forum(stack)
    owner = forum.user()
    tid, _ = forum.topic(owner)
    with forum.master(owner) as client:
        refused = client.put(f"/api/v2/topics/{tid}/pin")
        v1_pin = client.put(f"/api/v1/topics/{tid}/pin")
    assert refusal(refused) == (403, "forbidden", "no-privileges") and v1_pin.status_code == 404
    assert not forum.row(Topic, tid).pinned
    with forum.master(stack.admin_uid) as client:
        assert client.put(f"/api/v2/topics/{tid}/pin").status_code == 200
        assert forum.row(Topic, tid).pinned
        assert client.delete(f"/api/v2/topics/{tid}/pin").status_code == 200
        assert client.put("/api/v2/topics/99999999/pin").status_code == 404
    assert not forum.row(Topic, tid).pinned

"""Post routes over HTTP through the queue: edit, delete (v1 soft, v2 purge), state,
votes and bookmarks, with the rows and counters checked after each write."""

from forum.models import Bookmark, Category, Post, PostVote, Topic, User
from tests.support import CONTENT, Forum, Stack, refusal


def test_edit_post(stack: Stack) -> None:
    forum = Forum(stack)
    owner, other = forum.user(), forum.user()
    tid, main = forum.topic(owner)
    reply = forum.reply(other, tid)
    with forum.master(other) as client:
        refused = client.put(f"/api/v1/posts/{main}", json={"content": "Not yours to edit"})
        own = client.put(
            f"/api/v2/posts/{reply}",
            json={"content": "My reply, edited", "title": "Ignored on a reply"},
        )
    assert refusal(refused) == (403, "forbidden", "no-privileges")
    assert own.status_code == 200 and forum.row(Post, reply).content == "My reply, edited"
    assert forum.row(Topic, tid).title.startswith("T ")
    with forum.master(owner) as client:
        retitled = client.put(
            f"/api/v1/posts/{main}",
            json={"content": CONTENT, "title": "Fresh title", "tags": ["news"]},
        )
        missing = client.put(f"/api/v1/posts/{main}", json={"title": "No content"})
        blank = client.put(f"/api/v1/posts/{main}", json={"content": "   "})
        unknown = client.put("/api/v2/posts/99999999", json={"content": CONTENT})
    assert retitled.status_code == 200, retitled.text
    assert forum.row(Topic, tid).title == "Fresh title" and forum.tags(tid) == ["news"]
    post = forum.row(Post, main)
    assert post.editor == owner and post.edited > 0
    assert missing.status_code == 400 and missing.json()["params"] == ["content"]
    assert blank.status_code == 400 and blank.json()["code"] == "bad-request"
    assert unknown.status_code == 404
    assert forum.row(Topic, tid).title == "Fresh title"
    with forum.admin() as client:
        assert client.put(f"/api/v1/posts/{reply}", json={"content": CONTENT}).status_code == 200
    assert forum.row(Post, reply).editor == stack.admin_uid


def test_v1_delete_is_soft_with_counts_kept(stack: Stack) -> None:
    forum = Forum(stack)
    owner, other = forum.user(), forum.user()
    tid, _ = forum.topic(owner)
    first = forum.reply(other, tid)
    last = forum.reply(other, tid)
    assert forum.row(Topic, tid).teaser_pid == last
    with forum.master(owner) as client:
        refused = client.delete(f"/api/v1/posts/{last}")
    assert refusal(refused) == (403, "forbidden", "no-privileges")
    with forum.master(other) as client:
        deleted = client.delete(f"/api/v1/posts/{last}")
        again = client.delete(f"/api/v1/posts/{last}")
        unknown = client.delete("/api/v1/posts/99999999")
    assert deleted.status_code == 200 and deleted.json()["payload"] == {}
    assert refusal(again) == (400, "bad-request", "post-already-deleted")
    assert unknown.status_code == 404
    post, topic = forum.row(Post, last), forum.row(Topic, tid)
    assert post.deleted and post.deleter_uid == other
    assert topic.postcount == 3 and topic.teaser_pid == first  # counts kept, teaser moved
    assert forum.row(User, other).postcount == 2


def test_v2_state_and_purge(stack: Stack) -> None:
    forum = Forum(stack)
    owner, other = forum.user(), forum.user()
    tid, main = forum.topic(owner)
    reply = forum.reply(other, tid)
    with forum.master(other) as client:
        assert client.delete(f"/api/v2/posts/{reply}/state").status_code == 200
        assert forum.row(Post, reply).deleted
        assert client.put(f"/api/v2/posts/{reply}/state").status_code == 200
        assert not forum.row(Post, reply).deleted
        not_found = client.put("/api/v2/posts/99999999/state")
        own_purge = client.delete(f"/api/v2/posts/{reply}")  # no ``purge`` privilege
    assert not_found.status_code == 404
    assert refusal(own_purge) == (403, "forbidden", "no-privileges")
    before = forum.row(Category, stack.cid)
    with forum.admin() as client:
        main_refused = client.delete(f"/api/v2/posts/{main}")
        purged = client.delete(f"/api/v2/posts/{reply}")
        gone = client.delete(f"/api/v2/posts/{reply}")
    assert refusal(main_refused) == (400, "bad-request", "cant-purge-main-post")
    assert purged.status_code == 200 and gone.status_code == 404
    assert forum.row(Post, reply) is None and forum.row(Post, main) is not None
    topic = forum.row(Topic, tid)
    assert (topic.postcount, topic.postercount, topic.teaser_pid) == (1, 1, None)
    assert forum.row(Category, stack.cid).post_count == before.post_count - 1
    assert forum.row(User, other).postcount == 0


def test_votes(stack: Stack) -> None:
    forum = Forum(stack)
    owner, voter = forum.user(), forum.user()
    tid, main = forum.topic(owner)
    with forum.master(voter) as client:
        up = client.post(f"/api/v1/posts/{main}/vote", json={"delta": 1})
        assert up.status_code == 200, up.text
        assert up.json()["payload"]["upvote"] is True
        assert forum.row(User, owner).reputation == 1
        assert (forum.row(Topic, tid).upvotes, forum.row(Post, main).upvotes) == (1, 1)
        down = client.post(f"/api/v2/posts/{main}/vote", data={"delta": "-1"})  # a form
        assert down.status_code == 200 and forum.row(User, owner).reputation == -1
        post = forum.row(Post, main)
        assert (post.upvotes, post.downvotes, forum.row(Topic, tid).downvotes) == (0, 1, 1)
        assert forum.row(PostVote, (main, voter)).value == -1
        zero = client.post(f"/api/v1/posts/{main}/vote", json={"delta": 0})  # unvote
        assert zero.status_code == 200 and forum.row(PostVote, (main, voter)) is None
        client.post(f"/api/v1/posts/{main}/vote", json={"delta": 3})
        unvoted = client.delete(f"/api/v2/posts/{main}/vote")
        missing = client.post(f"/api/v1/posts/{main}/vote", json={})
        not_a_number = client.post(f"/api/v1/posts/{main}/vote", json={"delta": "lots"})
        unknown = client.post("/api/v1/posts/99999999/vote", json={"delta": 1})
    assert unvoted.status_code == 200
    assert forum.row(User, owner).reputation == 0 and forum.row(Post, main).upvotes == 0
    assert missing.status_code == 400 and missing.json()["params"] == ["delta"]
    assert not_a_number.status_code == 400 and not_a_number.json()["params"] == ["delta"]
    assert unknown.status_code == 404
    with forum.master(owner) as client:
        self_vote = client.post(f"/api/v1/posts/{main}/vote", json={"delta": 1})
    assert refusal(self_vote) == (400, "bad-request", "self-vote")
    assert forum.row(User, owner).reputation == 0


def test_v2_bookmarks(stack: Stack) -> None:
    forum = Forum(stack)
    owner, reader = forum.user(), forum.user()
    _, main = forum.topic(owner)
    with forum.token(reader) as client:
        added = client.post(f"/api/v2/posts/{main}/bookmark")
        twice = client.post(f"/api/v2/posts/{main}/bookmark")
        assert forum.row(Post, main).bookmarks == 1
        assert forum.row(Bookmark, (main, reader)) is not None
        removed = client.delete(f"/api/v2/posts/{main}/bookmark")
        again = client.delete(f"/api/v2/posts/{main}/bookmark")
        unknown = client.delete("/api/v2/posts/99999999/bookmark")
        v1 = client.post(f"/api/v1/posts/{main}/bookmark")
    assert added.status_code == 200 and added.json()["payload"]["isBookmarked"] is True
    assert refusal(twice) == (400, "bad-request", "already-bookmarked")
    assert removed.status_code == 200 and forum.row(Post, main).bookmarks == 0
    assert refusal(again) == (400, "bad-request", "already-unbookmarked")
    assert unknown.status_code == 404 and v1.status_code == 404  # v2 only
    assert forum.row(Bookmark, (main, reader)) is None

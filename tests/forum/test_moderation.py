"""Edit, delete / restore / purge, votes, bookmarks, follows, tags, pins and category
management as plain forum functions, on SQLite and PostgreSQL.

After every write the counters NodeBB keeps are recomputed from the rows and compared
(``assert_exact``): soft deletes keep content in every count, purges take it out.
"""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from forum import bookmarks, categories, posts, topics, votes
from forum.clock import now_ms
from forum.db import transaction
from forum.errors import ErrorClass, ForumError
from forum.groups import add_member
from forum.models import (
    Bookmark,
    Category,
    CategoryPrivilege,
    Post,
    PostVote,
    Topic,
    TopicFollow,
    TopicTag,
    User,
)
from forum.privileges import GLOBAL_MODERATORS, has
from tests.support import new_category, new_user, unique

CONTENT = "Content that is long enough"
FORBIDDEN, NOT_FOUND = ErrorClass.FORBIDDEN, ErrorClass.NOT_FOUND


def run(url: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with transaction(url) as session:
        return call(session, *args, **kwargs)


def refused(url: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ForumError) as caught:
        run(url, call, *args, **kwargs)
    return caught.value.key, str(caught.value.error_class)


def topic(url: str, uid: int, cid: int, **kwargs: Any) -> tuple[int, int]:
    created = run(url, topics.create_topic, uid, cid, unique("Title "), CONTENT, **kwargs)
    return created["topicData"]["tid"], created["postData"]["pid"]


def reply(url: str, uid: int, tid: int, **kwargs: Any) -> int:
    return run(url, topics.reply, uid, tid, CONTENT, **kwargs)["pid"]


def assert_exact(url: str, uids: list[int], cids: list[int]) -> None:
    """Every counter of these users and categories (and their topics/posts) equals what
    the rows say."""
    with transaction(url) as s:
        for uid in uids:
            user = s.get(User, uid)
            assert user is not None
            assert user.postcount == s.scalar(select(func.count()).where(Post.uid == uid))
            assert user.topiccount == s.scalar(select(func.count()).where(Topic.uid == uid))
            votes_on_own = select(func.coalesce(func.sum(PostVote.value), 0)).join(
                Post, Post.pid == PostVote.pid
            )
            assert user.reputation == s.scalar(votes_on_own.where(Post.uid == uid))
        for cid in cids:
            category = s.get(Category, cid)
            if category is None:
                continue
            in_cid = select(Topic.tid).where(Topic.cid == cid)
            assert category.topic_count == s.scalar(select(func.count()).where(Topic.cid == cid))
            assert category.post_count == s.scalar(select(func.count()).where(Post.tid.in_(in_cid)))
            for row in s.scalars(select(Topic).where(Topic.cid == cid)):
                _assert_topic_exact(s, row)


def _assert_topic_exact(s: Session, row: Topic) -> None:
    of_topic = Post.tid == row.tid
    assert row.postcount == s.scalar(select(func.count()).where(of_topic))
    assert row.postercount == s.scalar(select(func.count(func.distinct(Post.uid))).where(of_topic))
    assert row.followercount == s.scalar(select(func.count()).where(TopicFollow.tid == row.tid))
    for post in s.scalars(select(Post).where(of_topic)):
        values = list(s.scalars(select(PostVote.value).where(PostVote.pid == post.pid)))
        assert (post.upvotes, post.downvotes) == (values.count(1), values.count(-1))
        assert post.bookmarks == s.scalar(select(func.count()).where(Bookmark.pid == post.pid))
        assert post.replies == s.scalar(select(func.count()).where(Post.to_pid == post.pid))
        if post.pid == row.main_pid:
            assert (row.upvotes, row.downvotes) == (post.upvotes, post.downvotes)


def grant(url: str, cid: int, privilege: str, uid: int) -> None:
    with transaction(url) as s:
        s.execute(
            insert(CategoryPrivilege),
            [{"cid": cid, "privilege": privilege, "group_name": None, "uid": uid}],
        )


def test_soft_delete_and_restore_keep_counts_and_move_teaser(db_url: str) -> None:
    cid, owner, other = new_category(db_url), new_user(db_url), new_user(db_url)
    tid, main = topic(db_url, owner, cid, timestamp=now_ms() - 5000)
    first = reply(db_url, other, tid, timestamp=now_ms() - 1000)
    last = reply(db_url, other, tid)
    assert refused(db_url, posts.delete_post, owner, last) == (
        "no-privileges",
        ErrorClass.FORBIDDEN,
    )
    run(db_url, posts.delete_post, other, last)
    with transaction(db_url) as s:
        row = s.get(Topic, tid)
        assert row.teaser_pid == first and row.postcount == 3 and not row.deleted
        assert row.lastposttime == s.get(Post, first).timestamp
        assert s.get(Post, last).deleted and s.get(Post, last).deleter_uid == other
    assert_exact(db_url, [owner, other], [cid])
    assert refused(db_url, posts.delete_post, other, last) == (
        "post-already-deleted",
        "bad-request",
    )
    run(db_url, posts.restore_post, other, last)
    assert refused(db_url, posts.restore_post, other, last)[0] == "post-already-restored"
    with transaction(db_url) as s:
        assert s.get(Topic, tid).teaser_pid == last
    assert main


def test_deleting_the_only_post_deletes_its_topic(db_url: str) -> None:
    cid, owner = new_category(db_url), new_user(db_url)
    tid, main = topic(db_url, owner, cid)
    run(db_url, posts.delete_post, owner, main)
    with transaction(db_url) as s:
        assert s.get(Topic, tid).deleted and s.get(Topic, tid).deleter_uid == owner
    run(db_url, posts.restore_post, owner, main)
    with transaction(db_url) as s:
        assert not s.get(Topic, tid).deleted and not s.get(Post, main).deleted
    assert_exact(db_url, [owner], [cid])


def test_topic_delete_restore_rules(db_url: str) -> None:
    cid, owner, other = new_category(db_url), new_user(db_url), new_user(db_url)
    admin = new_user(db_url, admin=True)
    tid, _ = topic(db_url, owner, cid)
    reply(db_url, other, tid)
    assert refused(db_url, topics.delete_topic, other, tid) == (
        "no-privileges",
        ErrorClass.FORBIDDEN,
    )
    run(db_url, topics.delete_topic, admin, tid)
    # Deleted by an admin: the owner may not undo it.
    assert refused(db_url, topics.restore_topic, owner, tid)[0] == "no-privileges"
    assert refused(db_url, topics.delete_topic, admin, tid)[0] == "topic-already-deleted"
    run(db_url, topics.restore_topic, admin, tid)
    run(db_url, topics.delete_topic, owner, tid)
    run(db_url, topics.restore_topic, owner, tid)
    assert refused(db_url, topics.restore_topic, owner, tid)[0] == "topic-already-restored"
    assert refused(db_url, topics.delete_topic, owner, 987654321) == (
        "no-topic",
        ErrorClass.NOT_FOUND,
    )
    assert_exact(db_url, [owner, other], [cid])


def test_purge_reply_takes_it_out_of_every_counter(db_url: str) -> None:
    cid, owner, other, voter = (new_category(db_url), new_user(db_url), new_user(db_url),
                                new_user(db_url))  # fmt: skip
    admin = new_user(db_url, admin=True)
    tid, main = topic(db_url, owner, cid)
    parent = reply(db_url, owner, tid)
    child = reply(db_url, other, tid, to_pid=parent)
    run(db_url, votes.vote, voter, child, 1)
    run(db_url, votes.vote, owner, child, 1)
    run(db_url, bookmarks.bookmark, voter, child)
    assert_exact(db_url, [owner, other], [cid])
    # Owners lack ``purge`` by default; moderators without it too.
    assert refused(db_url, posts.purge_post, other, child) == (
        "no-privileges",
        ErrorClass.FORBIDDEN,
    )
    run(db_url, posts.purge_post, admin, child)
    with transaction(db_url) as s:
        assert s.get(Post, child) is None
        assert s.get(Post, parent).replies == 0
        row = s.get(Topic, tid)
        assert (row.postcount, row.postercount, row.teaser_pid) == (2, 1, parent)
        assert s.get(User, other).reputation == 0
        assert s.scalar(select(func.count()).where(PostVote.pid == child)) == 0
    assert_exact(db_url, [owner, other, voter], [cid])
    assert refused(db_url, posts.purge_post, admin, main) == ("cant-purge-main-post", "bad-request")
    assert refused(db_url, posts.purge_post, admin, child) == ("no-post", NOT_FOUND)


def test_purging_a_lone_main_post_purges_its_topic(db_url: str) -> None:
    cid, owner = new_category(db_url), new_user(db_url)
    admin = new_user(db_url, admin=True)
    tid, main = topic(db_url, owner, cid, tags=["alpha"])
    run(db_url, topics.follow_topic, owner, tid)
    run(db_url, posts.purge_post, admin, main)
    with transaction(db_url) as s:
        assert s.get(Topic, tid) is None
        assert s.scalar(select(func.count()).where(TopicTag.tid == tid)) == 0
        assert s.get(User, owner).topiccount == 0 and s.get(User, owner).postcount == 0
    assert_exact(db_url, [owner], [cid])


def test_purge_topic_and_category_keep_users_exact(db_url: str) -> None:
    cid, keep = new_category(db_url), new_category(db_url)
    child_cid = run(db_url, categories.create_category, None, unique("Child "), parent_cid=cid).cid
    a, b = new_user(db_url), new_user(db_url)
    admin = new_user(db_url, admin=True)
    kept_tid, _ = topic(db_url, a, keep)
    reply(db_url, b, kept_tid)
    for _ in range(2):
        tid, main = topic(db_url, a, cid)
        run(db_url, votes.vote, b, main, 1)
        cross = reply(db_url, b, kept_tid)
        reply(db_url, b, tid, to_pid=cross)  # replies across topics: the parent survives
        reply(db_url, a, tid)
    assert_exact(db_url, [a, b], [cid, keep])
    assert refused(db_url, topics.purge_topic, a, tid) == ("no-privileges", FORBIDDEN)
    run(db_url, topics.purge_topic, admin, tid)
    assert_exact(db_url, [a, b], [cid, keep])
    assert refused(db_url, categories.purge_category, a, cid) == (
        "no-privileges",
        ErrorClass.FORBIDDEN,
    )
    run(db_url, categories.purge_category, admin, cid)
    with transaction(db_url) as s:
        assert s.get(Category, cid) is None
        assert s.get(Category, child_cid).parent_cid == 0
        assert s.scalar(select(func.count()).where(CategoryPrivilege.cid == cid)) == 0
        assert s.get(User, a).topiccount == 1 and s.get(User, a).reputation == 0
    assert_exact(db_url, [a, b], [keep])
    assert refused(db_url, categories.purge_category, admin, cid) == ("no-category", "not-found")


def test_edit_rules_and_retitle(db_url: str) -> None:
    cid, owner, other = new_category(db_url), new_user(db_url), new_user(db_url)
    moderator = new_user(db_url)
    grant(db_url, cid, "moderate", moderator)
    tid, main = topic(db_url, owner, cid, tags=["alpha"])
    rep = reply(db_url, other, tid)
    edit = topics.edit_post
    assert refused(db_url, edit, other, main, CONTENT) == ("no-privileges", FORBIDDEN)
    result = run(db_url, edit, owner, main, "New content!", title="New title", tags=["beta"])
    assert result["topic"]["renamed"] and result["topic"]["oldTitle"].startswith("Title ")
    assert result["editor"]["uid"] == owner and result["post"]["editor"] == owner
    with transaction(db_url) as s:
        row = s.get(Topic, tid)
        assert row.title == "New title" and row.slug == f"{tid}/new-title"
        assert topics.topic_tags(s, tid) == ["beta"]
        post = s.get(Post, main)
        assert post.content == "New content!" and post.editor == owner and post.edited > 0
    # A reply's title and tags are ignored; a moderator may edit anyone's post.
    run(db_url, edit, moderator, rep, "Moderated text", title="Ignored")
    with transaction(db_url) as s:
        assert s.get(Topic, tid).title == "New title"
    # PUT /topics/:tid: pid must belong to tid (spec decision 5).
    assert refused(db_url, edit, owner, main, CONTENT, tid=tid + 10_000)[0] == "no-topic"
    other_tid, _ = topic(db_url, owner, cid)
    wrong_topic = refused(db_url, edit, owner, main, CONTENT, tid=other_tid)
    assert wrong_topic == ("invalid-pid", "bad-request")
    assert refused(db_url, edit, owner, main, "short")[0] == "content-too-short"
    assert refused(db_url, edit, owner, 987654321, CONTENT) == ("no-post", "not-found")
    # Locked topic: owners are refused, moderators are not.
    run_update(db_url, Topic, Topic.tid == tid, locked=True)
    assert refused(db_url, edit, owner, main, CONTENT)[0] == "topic-locked"
    run(db_url, edit, moderator, main, CONTENT)


def run_update(url: str, model: Any, where: Any, **values: Any) -> None:
    with transaction(url) as s:
        s.execute(update(model).where(where).values(**values))


def test_newbie_edit_window(db_url: str) -> None:
    cid, owner = new_category(db_url), new_user(db_url)
    _, old = topic(db_url, owner, cid, timestamp=now_ms() - 2 * 3600 * 1000)
    assert refused(db_url, topics.edit_post, owner, old, CONTENT) == (
        "post-edit-duration-expired",
        "bad-request",
    )
    run_update(db_url, User, User.uid == owner, reputation=3)  # no longer a newbie
    run(db_url, topics.edit_post, owner, old, CONTENT)


def test_votes_reputation_and_topic_mirror(db_url: str) -> None:
    cid, owner, voter = new_category(db_url), new_user(db_url), new_user(db_url)
    tid, main = topic(db_url, owner, cid)
    result = run(db_url, votes.vote, voter, main, 5)
    assert result["upvote"] and result["user"]["reputation"] == 1
    assert result["post"]["upvotes"] == 1
    run(db_url, votes.vote, voter, main, 1)  # the same vote again changes nothing
    switched = run(db_url, votes.vote, voter, main, -0.5)
    assert switched["downvote"] and switched["user"]["reputation"] == -1
    with transaction(db_url) as s:
        assert (s.get(Topic, tid).upvotes, s.get(Topic, tid).downvotes) == (0, 1)
    assert_exact(db_url, [owner, voter], [cid])
    run(db_url, votes.vote, voter, main, 0)
    assert run(db_url, votes.unvote, voter, main)["user"]["reputation"] == 0
    assert refused(db_url, votes.vote, owner, main, 1) == ("self-vote", "bad-request")
    assert refused(db_url, votes.vote, voter, 987654321, 1) == ("no-post", "not-found")
    with transaction(db_url) as s:
        s.execute(
            delete(CategoryPrivilege).where(
                CategoryPrivilege.cid == cid,
                CategoryPrivilege.privilege.in_(("posts:upvote", "posts:downvote")),
            )
        )
    assert refused(db_url, votes.vote, voter, main, 1) == ("no-privileges", "bad-request")
    run(db_url, posts.delete_post, owner, main)
    assert refused(db_url, votes.vote, voter, main, -1)[0] == "post-deleted"
    assert_exact(db_url, [owner, voter], [cid])


def test_bookmarks_follows_tags_and_pins(db_url: str) -> None:
    cid, owner, other = new_category(db_url), new_user(db_url), new_user(db_url)
    moderator = new_user(db_url)
    tid, main = topic(db_url, owner, cid, tags=["alpha"])
    assert run(db_url, bookmarks.bookmark, other, main)["post"]["bookmarks"] == 1
    assert refused(db_url, bookmarks.bookmark, other, main)[0] == "already-bookmarked"
    assert run(db_url, bookmarks.unbookmark, other, main)["post"]["bookmarks"] == 0
    assert refused(db_url, bookmarks.unbookmark, other, main)[0] == "already-unbookmarked"
    for _ in range(2):  # following twice is one follow
        run(db_url, topics.follow_topic, other, tid)
    run(db_url, topics.follow_topic, owner, tid)
    with transaction(db_url) as s:
        assert s.get(Topic, tid).followercount == 2
    run(db_url, topics.unfollow_topic, other, tid)
    run(db_url, topics.unfollow_topic, other, tid)
    assert_exact(db_url, [owner, other], [cid])
    assert refused(db_url, topics.follow_topic, other, 987654321) == ("no-topic", "not-found")
    # Tags: replaced (decision 6), cleaned, limited; only the owner, mods or admins.
    run(db_url, topics.replace_tags, owner, tid, ["Beta", "gamma", "be"])
    with transaction(db_url) as s:
        assert sorted(topics.topic_tags(s, tid)) == ["beta", "gamma"]
    assert refused(db_url, topics.replace_tags, other, tid, ["x1x"])[1] == FORBIDDEN
    too_many = [f"tag{i}" for i in range(6)]
    assert refused(db_url, topics.replace_tags, owner, tid, too_many)[0] == "too-many-tags"
    run(db_url, topics.clear_tags, owner, tid)
    with transaction(db_url) as s:
        assert topics.topic_tags(s, tid) == []
    # Pins: moderators of the category and admins only.
    assert refused(db_url, topics.set_pinned, owner, tid, True) == ("no-privileges", "forbidden")
    with transaction(db_url) as s:
        add_member(s, GLOBAL_MODERATORS, moderator)
    run(db_url, topics.set_pinned, moderator, tid, True)
    with transaction(db_url) as s:
        assert s.get(Topic, tid).pinned
    run(db_url, topics.set_pinned, moderator, tid, False)
    with transaction(db_url) as s:
        assert not s.get(Topic, tid).pinned


def test_category_update_state_and_privileges(db_url: str) -> None:
    cid, other_cid = new_category(db_url), new_category(db_url)
    admin, user = new_user(db_url, admin=True), new_user(db_url)
    update_ = categories.update_category
    assert refused(db_url, update_, user, cid, name="x") == ("no-privileges", FORBIDDEN)
    assert refused(db_url, update_, admin, 987654321, name="x") == ("no-category", "not-found")
    run(db_url, update_, admin, cid, name="Renamed Cat", bg_color="#000", background_image="/a.png")
    with transaction(db_url) as s:
        row = s.get(Category, cid)
        assert (row.name, row.slug, row.bg_color) == ("Renamed Cat", f"{cid}/renamed-cat", "#000")
        assert row.background_image == "/a.png" and row.description == ""
    run(db_url, update_, admin, other_cid, parent_cid=cid)
    assert refused(db_url, update_, admin, cid, parent_cid=cid)[0] == "cant-set-self-as-parent"
    assert refused(db_url, update_, admin, cid, parent_cid=other_cid)[0] == (
        "cant-set-child-as-parent"
    )
    run(db_url, categories.set_disabled, admin, cid, True)
    with transaction(db_url) as s:
        assert s.get(Category, cid).disabled
    run(db_url, categories.set_disabled, admin, cid, False)

    grant_ = categories.set_privileges
    run(db_url, grant_, admin, cid, ["moderate", "purge"], [str(user)], grant=True)
    run(db_url, grant_, admin, cid, ["moderate"], [str(user)], grant=True)  # idempotent
    run(db_url, grant_, admin, 0, ["groups:chat"], ["registered-users"], grant=True)
    with transaction(db_url) as s:
        assert has(s, user, "moderate", cid) and has(s, user, "purge", cid)
        assert has(s, user, "chat", 0)
        assert s.scalar(
            select(func.count()).where(
                CategoryPrivilege.cid == cid, CategoryPrivilege.uid == user
            )
        ) == 2  # fmt: skip
    run(db_url, grant_, admin, cid, ["moderate", "purge"], [str(user)], grant=False)
    run(db_url, grant_, admin, 0, ["groups:chat"], ["registered-users"], grant=False)
    with transaction(db_url) as s:
        assert not has(s, user, "moderate", cid) and not has(s, user, "chat", 0)
    bad = [
        (["nonsense"], [str(user)], "invalid-privilege"),
        (["chat"], [str(user)], "invalid-privilege"),  # a global privilege on a category
        (["moderate"], ["somebody"], "invalid-uid"),
        (["moderate"], ["987654321"], "no-user"),
        (["groups:moderate"], [unique("nogroup")], "no-group"),
    ]
    for names, members, key in bad:
        assert refused(db_url, grant_, admin, cid, names, members, grant=True)[0] == key
    assert refused(db_url, grant_, admin, 987654321, ["read"], ["guests"], grant=True) == (
        "no-category",
        "not-found",
    )

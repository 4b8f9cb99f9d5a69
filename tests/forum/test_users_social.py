"""Account deletion, follows, bans, groups and chats as plain forum functions, on SQLite
and PostgreSQL: the counters every write leaves behind are checked against the rows."""

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from forum import bans, chats, follows, groups, votes
from forum.clock import now_ms
from forum.db import transaction
from forum.errors import ErrorClass, ForumError
from forum.migrate import upgrade
from forum.models import (
    Bookmark,
    Category,
    ChatRoom,
    Group,
    Post,
    Topic,
    TopicFollow,
    User,
)
from forum.topics import create_topic, reply
from forum.users import create_user, delete_user, get_poster, is_banned
from tests.support import new_category, new_user

CONTENT = "Content that is long enough"


def _refused(url: str, call, *args, **kwargs) -> ForumError:  # type: ignore[no-untyped-def]
    with pytest.raises(ForumError) as caught, transaction(url) as session:
        call(session, *args, **kwargs)
    return caught.value


def test_delete_user_keeps_every_counter_exact(db_url: str) -> None:
    cid = new_category(db_url)
    doomed, other = new_user(db_url), new_user(db_url)
    with transaction(db_url) as session:
        own = create_topic(session, doomed, cid, "Own", CONTENT)["topicData"]["tid"]
        reply(session, other, own, CONTENT)
        survivor = create_topic(session, other, cid, "Kept", CONTENT)
        tid, main_pid = survivor["topicData"]["tid"], survivor["postData"]["pid"]
        doomed_reply = reply(session, doomed, tid, CONTENT, to_pid=main_pid)["pid"]
        reply(session, other, tid, CONTENT)
        session.add(Bookmark(pid=main_pid, uid=doomed, created_at=now_ms()))
        session.execute(update(Post).where(Post.pid == main_pid).values(bookmarks=1))
        session.add(TopicFollow(tid=tid, uid=doomed, created_at=now_ms()))
        session.execute(update(Topic).where(Topic.tid == tid).values(followercount=1))
        follows.follow(session, other, doomed)
        follows.follow(session, doomed, other)
    with transaction(db_url) as session:
        votes.vote(session, doomed, main_pid, 1)  # the doomed user's vote on a surviving post
        votes.vote(session, other, doomed_reply, -1)  # a vote on a post that goes
        group = groups.create_group(session, None, f"Crew {doomed}", owner_uid=doomed)
        groups.add_group_member(session, None, group["slug"], other)  # type: ignore[arg-type]
        room = chats.send_message(session, other, doomed, "hello")["roomId"]
        chats.send_message(session, doomed, other, "bye", room_id=room)
        before = session.get(Category, cid)
        topics_before, posts_before = before.topic_count, before.post_count

    with transaction(db_url) as session:
        assert delete_user(session, doomed, doomed) == {}

    with transaction(db_url) as session:
        category = session.get(Category, cid)
        assert category.topic_count == topics_before - 1
        assert category.post_count == posts_before - 3
        topic = session.get(Topic, tid)
        rows = session.scalar(select(func.count()).where(Post.tid == tid))
        assert topic.postcount == rows == 2
        assert topic.postercount == 1 and topic.followercount == 0
        assert topic.upvotes == 0  # the main post's vote went with its voter
        main = session.get(Post, main_pid)
        assert (main.upvotes, main.bookmarks, main.replies) == (0, 0, 0)
        user = session.get(User, other)
        assert user.postcount == session.scalar(select(func.count()).where(Post.uid == other))
        assert user.reputation == 0
        assert (user.follower_count, user.following_count) == (0, 0)
        assert session.get(Group, group["name"]).member_count == 1
        chat_room = session.get(ChatRoom, room)
        assert chat_room.owner_uid == other and chat_room.message_count == 1
        assert session.get(User, doomed) is None


def test_self_or_admin_and_missing_user(db_url: str) -> None:
    uid, other, admin = new_user(db_url), new_user(db_url), new_user(db_url, admin=True)
    mismatch = _refused(db_url, delete_user, other, uid)
    assert (mismatch.error_class, mismatch.key) == (ErrorClass.NOT_AUTHORISED, "no-privileges")
    assert _refused(db_url, delete_user, admin, 10**12).error_class == ErrorClass.NOT_FOUND
    with transaction(db_url) as session:
        delete_user(session, admin, uid)


def test_follow_rules(db_url: str) -> None:
    a, b = new_user(db_url), new_user(db_url)
    assert _refused(db_url, follows.follow, a, a).key == "you-cant-follow-yourself"
    assert _refused(db_url, follows.unfollow, a, b).key == "not-following"
    with transaction(db_url) as session:
        follows.follow(session, a, b)
    assert _refused(db_url, follows.follow, a, b).key == "already-following"
    with transaction(db_url) as session:
        assert session.get(User, a).following_count == 1
        assert session.get(User, b).follower_count == 1


def test_ban_expiry_and_rules(db_url: str) -> None:
    uid, admin = new_user(db_url), new_user(db_url, admin=True)
    assert _refused(db_url, bans.ban, uid, uid).error_class == ErrorClass.FORBIDDEN
    assert _refused(db_url, bans.ban, admin, admin).key == "cant-ban-other-admins"
    # A time already past bans for good, as NodeBB's User.bans.ban does.
    with transaction(db_url) as session:
        bans.ban(session, admin, uid, until=1)
        assert (session.get(User, uid).banned, session.get(User, uid).banned_until) == (True, 0)
    with transaction(db_url) as session:
        bans.ban(session, admin, uid, until=now_ms() + 60_000, reason="cool off")
    assert _refused(db_url, get_poster, uid).key == "user-banned"
    with transaction(db_url) as session:
        user = session.get(User, uid)
        assert is_banned(user) and not is_banned(user, now=user.banned_until)
        user.banned_until = now_ms() - 1  # the ban ran out
    with transaction(db_url) as session:
        assert get_poster(session, uid).uid == uid


def test_last_admin_cannot_leave(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade(url)
    with transaction(url) as session:
        admin = create_user(session, None, "only-admin", admin=True).uid
    refused = _refused(url, groups.leave_group, admin, "administrators")
    assert refused.key == "cant-remove-last-admin"
    with transaction(url) as session:
        second = create_user(session, None, "second-admin", admin=True).uid
        groups.remove_group_member(session, second, "administrators", admin)
        assert session.get(Group, "administrators").member_count == 1


def test_last_admin_cannot_be_deleted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade(url)
    with transaction(url) as session:
        admin = create_user(session, None, "only-admin", admin=True).uid
    assert _refused(url, delete_user, admin, admin).key == "cant-delete-last-admin"
    with transaction(url) as session:
        second = create_user(session, None, "second-admin", admin=True).uid
        delete_user(session, second, admin)
        assert session.get(Group, "administrators").member_count == 1

"""A post's edit history (``forum.diffs``) on both databases: each edit keeps the
version it replaced; a version reads back as of its timestamp; deleting one leaves the
others reading as before; restoring is an edit of its own."""

import pytest

from forum import diffs, topics
from forum.db import transaction
from forum.errors import ForumError
from forum.groups import add_member
from forum.models import Post, PostDiff, Topic
from forum.privileges import ADMINISTRATORS
from tests.support import new_category, new_user

VERSIONS = ("Version zero of the post", "Version one of the post", "Version two of the post",
            "Version three of the post")  # fmt: skip


def edited_post(url: str) -> tuple[int, int, list[int]]:
    """A main post edited three times, retitled at the second edit: ``(uid, pid, stamps)``,
    stamps the version timestamps oldest first (the post's own first)."""
    cid, uid = new_category(url), new_user(url)
    with transaction(url) as session:
        created = topics.create_topic(session, uid, cid, "Title zero", VERSIONS[0], tags=["alpha"])
        pid = int(created["postData"]["pid"])
        topics.edit_post(session, uid, pid, VERSIONS[1])
        topics.edit_post(session, uid, pid, VERSIONS[2], title="Title two", tags=["beta"])
        topics.edit_post(session, uid, pid, VERSIONS[3])
        post = session.get(Post, pid)
        assert post is not None
        history = diffs.history(session, uid, post, moderator=False)
    return uid, pid, [int(stamp) for stamp in reversed(history["timestamps"])]  # type: ignore[arg-type]


def read(url: str, pid: int, since: int) -> diffs.Version:
    with transaction(url) as session:
        post = session.get(Post, pid)
        assert post is not None
        topic = session.get(Topic, post.tid)
        assert topic is not None
        return diffs.version_at(session, post, topic, since)


def test_each_version_reads_back_as_of_its_timestamp(db_url: str) -> None:
    _, pid, stamps = edited_post(db_url)
    assert len(stamps) == 4 and stamps == sorted(set(stamps))
    shown = [read(db_url, pid, stamp) for stamp in stamps]
    assert [v.content for v in shown] == list(VERSIONS)
    assert [v.title for v in shown] == ["Title zero", "Title zero", "Title two", "Title two"]
    assert [v.tags for v in shown] == [["alpha"], ["alpha"], ["beta"], ["beta"]]


def test_deleting_a_version_leaves_the_others_as_they_were(db_url: str) -> None:
    uid, pid, stamps = edited_post(db_url)
    admin = new_user(db_url)
    with transaction(db_url) as session:
        add_member(session, ADMINISTRATORS, admin)
    with transaction(db_url) as session:
        with pytest.raises(ForumError) as refused:
            diffs.delete_diff(session, uid, pid, str(stamps[1]))  # the owner: moderators only
        assert refused.value.key == "no-privileges"
        with pytest.raises(ForumError) as refused:
            diffs.delete_diff(session, admin, pid, str(stamps[3]))  # the post as it is
        assert refused.value.key == "invalid-data"
        left = diffs.delete_diff(session, admin, pid, str(stamps[2]))  # version two, retitled
    assert left["timestamps"] == [str(stamps[3]), str(stamps[1]), str(stamps[0])]
    assert [read(db_url, pid, s).content for s in (stamps[0], stamps[1], stamps[3])] == [
        VERSIONS[0], VERSIONS[1], VERSIONS[3]]  # fmt: skip
    assert read(db_url, pid, stamps[1]).title == "Title zero"
    with transaction(db_url) as session:
        diffs.delete_diff(session, admin, pid, str(stamps[0]))  # the first: the oldest goes
    assert read(db_url, pid, stamps[0]).content == VERSIONS[1]


def test_restoring_is_an_edit_kept_in_the_history(db_url: str) -> None:
    uid, pid, stamps = edited_post(db_url)
    with transaction(db_url) as session:
        topics.restore_diff(session, uid, pid, str(stamps[0]))
    with transaction(db_url) as session:
        post = session.get(Post, pid)
        assert post is not None and post.content == VERSIONS[0]
        topic = session.get(Topic, post.tid)
        assert topic is not None and topic.title == "Title zero"
        assert topics.topic_tags(session, topic.tid) == ["alpha"]
        assert session.query(PostDiff).filter(PostDiff.pid == pid).count() == 4
    assert read(db_url, pid, stamps[3]).content == VERSIONS[3]

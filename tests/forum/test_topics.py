"""``forum.topics.create_topic`` / ``reply``: NodeBB's checks and the counters they keep."""

import pytest
from sqlalchemy import delete, select, update

from forum.db import transaction
from forum.errors import ErrorClass, ForumError
from forum.models import Category, CategoryPrivilege, Post, Topic, TopicTag, User
from forum.privileges import REGISTERED_USERS
from forum.topics import create_topic, reply
from forumq.settings import Settings
from tests.support import new_category, new_user, unique

CONTENT = "Content that is long enough"
T0 = 1_600_000_000_000  # an imported, older time (2020)


def _topic(url: str, actor: int, cid: int, **kwargs: object) -> dict[str, object]:
    kwargs.setdefault("title", unique("Title "))
    kwargs.setdefault("content", CONTENT)
    with transaction(url) as session:
        return create_topic(session, actor, cid, **kwargs)  # type: ignore[arg-type]


def _reply(url: str, actor: int, tid: int, **kwargs: object) -> dict[str, object]:
    kwargs.setdefault("content", CONTENT)
    with transaction(url) as session:
        return reply(session, actor, tid, **kwargs)  # type: ignore[arg-type]


def _refused(call, *args: object, **kwargs: object) -> ForumError:  # type: ignore[no-untyped-def]
    with pytest.raises(ForumError) as caught:
        call(*args, **kwargs)
    return caught.value


def _counts(url: str, cid: int) -> tuple[int, int, int]:
    with transaction(url) as session:
        category = session.get(Category, cid)
        assert category is not None
        topics = session.scalar(select(Topic.tid).where(Topic.cid == cid).limit(1))
        return category.topic_count, category.post_count, int(topics is not None)


def test_create_topic_sets_every_counter(db_url: str) -> None:
    cid, uid = new_category(db_url), new_user(db_url)
    created = _topic(db_url, uid, cid, title="  Hello, World!  ", tags=["Python", "py"])
    topic, post = created["topicData"], created["postData"]
    assert isinstance(topic, dict) and isinstance(post, dict)
    assert topic["title"] == "Hello, World!"
    assert topic["slug"] == f"{topic['tid']}/hello-world"
    assert topic["mainPid"] == post["pid"] and post["isMainPost"] is True and post["index"] == 0
    assert topic["mainPost"] == post and post["topic"]["tid"] == topic["tid"]
    assert topic["user"]["uid"] == uid == post["user"]["uid"] and topic["category"]["cid"] == cid
    assert [t["value"] for t in topic["tags"]] == ["python"]  # "py" is below 3 characters
    with transaction(db_url) as session:
        row = session.get(Topic, topic["tid"])
        assert row is not None
        assert (row.postcount, row.postercount, row.main_pid) == (1, 1, post["pid"])
        assert row.teaser_pid is None  # the teaser is never the main post
        assert row.lastposttime == row.timestamp == post["timestamp"]
        category = session.get(Category, cid)
        assert (category.topic_count, category.post_count) == (1, 1)
        user = session.get(User, uid)
        assert (user.postcount, user.topiccount, user.lastposttime) == (1, 1, post["timestamp"])
        tags = session.scalars(select(TopicTag.tag).where(TopicTag.tid == topic["tid"])).all()
        assert tags == ["python"]


def test_reply_counters_teaser_and_posters(db_url: str) -> None:
    cid, owner, other = new_category(db_url), new_user(db_url), new_user(db_url)
    tid = _topic(db_url, owner, cid, timestamp=T0)["topicData"]["tid"]  # type: ignore[index]
    first = _reply(db_url, other, tid, timestamp=T0 + 10)
    second = _reply(db_url, other, tid, timestamp=T0 + 20, to_pid=first["pid"])
    own = _reply(db_url, owner, tid, timestamp=T0 + 30)
    assert second["toPid"] == first["pid"] and own["index"] == 3
    with transaction(db_url) as session:
        topic = session.get(Topic, tid)
        assert (topic.postcount, topic.postercount) == (4, 2)
        assert topic.teaser_pid == own["pid"] and topic.lastposttime == T0 + 30
        assert session.get(Post, first["pid"]).replies == 1
        category = session.get(Category, cid)
        assert (category.topic_count, category.post_count) == (1, 4)
        replier = session.get(User, other)
        assert (replier.postcount, replier.topiccount, replier.lastposttime) == (2, 0, T0 + 20)
        assert session.get(User, owner).lastposttime == T0 + 30


def test_imported_older_reply_never_moves_times_backwards(db_url: str) -> None:
    cid, uid = new_category(db_url), new_user(db_url)
    tid = _topic(db_url, uid, cid, timestamp=T0 + 1000)["topicData"]["tid"]  # type: ignore[index]
    latest = _reply(db_url, uid, tid, timestamp=T0 + 2000)
    older = _reply(db_url, uid, tid, timestamp=T0 + 1500)
    with transaction(db_url) as session:
        topic = session.get(Topic, tid)
        assert topic.lastposttime == T0 + 2000 and topic.teaser_pid == latest["pid"]
        assert topic.postcount == 3
        assert session.get(User, uid).lastposttime == T0 + 2000
        assert session.get(Post, older["pid"]).timestamp == T0 + 1500


def test_length_rules_apply_to_users_not_admins(db_url: str) -> None:
    cid, uid, admin = new_category(db_url), new_user(db_url), new_user(db_url, admin=True)
    short = _refused(_topic, db_url, uid, cid, content="short")
    assert (short.key, short.args_, short.error_class) == (
        "content-too-short",
        ["8"],
        ErrorClass.BAD_REQUEST,
    )
    long_title = _refused(_topic, db_url, uid, cid, title="x" * 256)
    assert (long_title.key, long_title.args_) == ("title-too-long", ["255"])
    # Tags do not count: "<b></b>" is no content.
    assert _refused(_topic, db_url, uid, cid, content="<b>      </b>").key == "content-too-short"
    tid = _topic(db_url, admin, cid, title="x" * 300, content="ok")["topicData"]["tid"]  # type: ignore[index]
    assert _refused(_reply, db_url, uid, tid, content="tiny").key == "content-too-short"
    assert _reply(db_url, admin, tid, content="tiny")["content"] == "<p>tiny</p>\n"
    assert _counts(db_url, cid)[:2] == (1, 2)


def test_the_rules_passed_in_are_the_rules_applied(db_url: str) -> None:
    """The domain reads no settings: a forum configured otherwise passes other rules."""
    cid, uid = new_category(db_url), new_user(db_url)
    lenient = Settings(minimum_post_length=3, maximum_tags_per_topic=1).rules
    assert _refused(_topic, db_url, uid, cid, content="tiny").key == "content-too-short"
    tid = _topic(db_url, uid, cid, content="tiny", rules=lenient)["topicData"]["tid"]  # type: ignore[index]
    assert _reply(db_url, uid, tid, content="tiny", rules=lenient)["content"] == "<p>tiny</p>\n"
    error = _refused(_topic, db_url, uid, cid, tags=["one", "two"], rules=lenient)
    assert (error.key, error.args_) == ("too-many-tags", ["1"])


def test_tag_rules(db_url: str) -> None:
    cid, uid = new_category(db_url), new_user(db_url)
    error = _refused(_topic, db_url, uid, cid, tags=[f"tag{i}" for i in range(6)])
    assert (error.key, error.args_) == ("too-many-tags", ["5"])
    cleaned = _topic(
        db_url, uid, cid, tags=["  #Foo!  ", "foo", "-bar.", "a-very-long-tag-name-here"]
    )
    values = [t["value"] for t in cleaned["topicData"]["tags"]]  # type: ignore[index]
    assert values == ["foo", "bar", "a-very-long-tag"]


def test_unknown_category_topic_and_user(db_url: str) -> None:
    uid = new_user(db_url)
    assert _refused(_topic, db_url, uid, 987654321).key == "no-category"
    missing_topic = _refused(_reply, db_url, uid, 987654321)
    assert (missing_topic.key, missing_topic.error_class) == ("no-topic", ErrorClass.NOT_FOUND)
    cid = new_category(db_url)
    assert _refused(_topic, db_url, 987654321, cid).key == "no-user"
    assert _counts(db_url, cid) == (0, 0, 0)


def test_locked_topic(db_url: str) -> None:
    cid, uid, admin = new_category(db_url), new_user(db_url), new_user(db_url, admin=True)
    tid = _topic(db_url, uid, cid)["topicData"]["tid"]  # type: ignore[index]
    with transaction(db_url) as session:
        session.execute(update(Topic).where(Topic.tid == tid).values(locked=True))
    error = _refused(_reply, db_url, uid, tid)
    assert (error.key, error.error_class) == ("topic-locked", ErrorClass.BAD_REQUEST)
    _reply(db_url, admin, tid)
    with transaction(db_url) as session:
        assert session.get(Topic, tid).postcount == 2


def test_no_privilege(db_url: str) -> None:
    cid, uid, admin = new_category(db_url), new_user(db_url), new_user(db_url, admin=True)
    tid = _topic(db_url, admin, cid)["topicData"]["tid"]  # type: ignore[index]
    with transaction(db_url) as session:
        session.execute(
            delete(CategoryPrivilege).where(
                CategoryPrivilege.cid == cid,
                CategoryPrivilege.group_name == REGISTERED_USERS,
                CategoryPrivilege.privilege.in_(["topics:create", "topics:reply"]),
            )
        )
    assert _refused(_topic, db_url, uid, cid).key == "no-privileges"
    assert _refused(_reply, db_url, uid, tid).key == "no-privileges"
    _reply(db_url, admin, tid)  # administrators hold their own grant
    assert _counts(db_url, cid)[:2] == (1, 2)


def test_tags_need_their_privilege(db_url: str) -> None:
    cid, uid = new_category(db_url), new_user(db_url)
    with transaction(db_url) as session:
        session.execute(
            delete(CategoryPrivilege).where(
                CategoryPrivilege.cid == cid, CategoryPrivilege.privilege == "topics:tag"
            )
        )
    assert _refused(_topic, db_url, uid, cid, tags=["python"]).key == "no-privileges"
    _topic(db_url, uid, cid)


def test_banned_user(db_url: str) -> None:
    cid, uid = new_category(db_url), new_user(db_url)
    tid = _topic(db_url, uid, cid)["topicData"]["tid"]  # type: ignore[index]
    with transaction(db_url) as session:
        session.execute(update(User).where(User.uid == uid).values(banned=True))
    assert _refused(_topic, db_url, uid, cid).key == "user-banned"
    assert _refused(_reply, db_url, uid, tid).key == "user-banned"
    with transaction(db_url) as session:
        assert session.get(User, uid).postcount == 1

"""``forum.bulk.writes.apply_writes`` against the writes applied one by one: the same
command stream leaves the same rows and counters, and answers the same (payloads, or
the same error for the writes that fail), on SQLite and PostgreSQL.

Each side runs in a transaction that is rolled back, so both start from the same rows;
ids the two sides allocate are compared by their order (a sequence moves on at rollback).
"""

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum.bulk.writes import NewReply, NewTopic, Unsure, Write, apply_writes
from forum.db import transaction
from forum.errors import ForumError
from forum.models import Category, Post, Topic, TopicTag, User
from forum.topics import create_topic, reply
from tests.support import new_category, new_user

CONTENT = "Content that is long enough"
T0 = 1_700_000_000_000
NINE_TAGS = tuple(f"tag{i}" for i in range(9))


def one_by_one(session: Session, writes: list[Write]) -> list[Any]:
    """The per-job path: each write in its own savepoint, as the worker applies a batch."""
    outcomes: list[Any] = []
    for write in writes:
        try:
            with session.begin_nested():
                if isinstance(write, NewTopic):
                    outcomes.append(create_topic(
                        session, write.actor, write.cid, write.title, write.content,
                        tags=list(write.tags), timestamp=write.timestamp,
                    ))  # fmt: skip
                else:
                    outcomes.append(
                        reply(session, write.actor, write.tid, write.content,
                              to_pid=write.to_pid, timestamp=write.timestamp)
                    )  # fmt: skip
        except ForumError as error:
            outcomes.append(error)
    return outcomes


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    session.flush()
    session.expire_all()

    def rows(*columns: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in session.execute(select(*columns).order_by(*columns[:2]))]

    return {
        "topics": rows(*Topic.__table__.c),
        "posts": rows(*Post.__table__.c),
        "tags": rows(TopicTag.tid, TopicTag.tag),
        "categories": rows(Category.cid, Category.topic_count, Category.post_count),
        "users": rows(User.uid, User.postcount, User.topiccount, User.lastposttime),
    }


class Ids:
    """Ids allocated by a run, renamed by their order: ``(tid, 0)``, ``(pid, 1)``, ..."""

    ID_KEYS: ClassVar[dict[str, str]] = {
        "tid": "tid", "pid": "pid", "main_pid": "pid", "teaser_pid": "pid", "mainPid": "pid",
        "teaserPid": "pid", "to_pid": "pid", "toPid": "pid",
    }  # fmt: skip

    def __init__(self, session: Session) -> None:
        self.first = {
            "tid": (session.scalar(select(Topic.tid).order_by(Topic.tid.desc()).limit(1)) or 0),
            "pid": (session.scalar(select(Post.pid).order_by(Post.pid.desc()).limit(1)) or 0),
        }
        self.seen: dict[str, dict[int, int]] = {"tid": {}, "pid": {}}

    def name(self, kind: str, value: Any) -> Any:
        if not isinstance(value, int) or value <= self.first[kind]:
            return value
        return (kind, self.seen[kind].setdefault(value, len(self.seen[kind])))

    def payload(self, value: Any) -> Any:
        if isinstance(value, ForumError):
            return ("error", value.record())
        if isinstance(value, dict):
            return {
                k: self.name(self.ID_KEYS[k], v) if k in self.ID_KEYS else self.payload(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.payload(v) for v in value]
        if isinstance(value, str) and "/" in value and value.split("/")[0].isdigit():
            tid, rest = value.split("/", 1)  # a slug
            return (self.name("tid", int(tid)), rest)
        return value

    def rows(self, snap: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
        topic_cols = [c.key for c in Topic.__table__.c]
        post_cols = [c.key for c in Post.__table__.c]
        return {
            "topics": sorted(
                (self.payload(dict(zip(topic_cols, row, strict=True))) for row in snap["topics"]),
                key=repr,
            ),
            "posts": sorted(
                (self.payload(dict(zip(post_cols, row, strict=True))) for row in snap["posts"]),
                key=repr,
            ),
            "tags": sorted(((self.name("tid", t), tag) for t, tag in snap["tags"]), key=repr),
            "categories": snap["categories"],
            "users": snap["users"],
        }


def compare(url: str, writes: list[Write]) -> tuple[list[Any], dict[str, Any]]:
    """Both paths' normalised answers and rows; asserts they agree."""
    results = []
    for apply in (one_by_one, apply_writes):
        session_cm = transaction(url)
        session = session_cm.__enter__()
        try:
            ids = Ids(session)
            outcomes = apply(session, writes)
            snap = snapshot(session)
            # Ids by order of first appearance in the answers, then in the rows.
            results.append(([ids.payload(o) for o in outcomes], ids.rows(snap)))
        finally:
            session.rollback()
            session_cm.__exit__(None, None, None)
    (answers_one, rows_one), (answers_set, rows_set) = results
    assert answers_set == answers_one
    assert rows_set == rows_one
    return answers_one, rows_one


@pytest.fixture
def forum(db_url: str) -> dict[str, int]:
    """Users (admin, two members, a banned one), two categories (one disabled), and
    topics with posts: open, locked, deleted."""
    made = {
        "admin": new_user(db_url, admin=True),
        "alice": new_user(db_url),
        "bob": new_user(db_url),
        "banned": new_user(db_url),
        "cid": new_category(db_url),
        "disabled": new_category(db_url),
    }
    with transaction(db_url) as session:
        session.execute(update(User).where(User.uid == made["banned"]).values(banned=True))
        session.execute(update(Category).where(Category.cid == made["disabled"])
                        .values(disabled=True))  # fmt: skip
        for name in ("open", "locked", "deleted"):
            data = create_topic(session, made["alice"], made["cid"], f"A {name} topic", CONTENT,
                                timestamp=T0)  # fmt: skip
            made[name] = int(data["topicData"]["tid"])  # type: ignore[index]
            made[f"{name}_main"] = int(data["postData"]["pid"])  # type: ignore[index]
            reply(session, made["bob"], made[name], CONTENT, timestamp=T0 + 10)
        session.execute(update(Topic).where(Topic.tid == made["locked"]).values(locked=True))
        session.execute(update(Topic).where(Topic.tid == made["deleted"]).values(deleted=True))
    return made


def stream(f: dict[str, int]) -> list[Write]:
    admin, alice, bob = f["admin"], f["alice"], f["bob"]
    return [
        # Replies into one topic, in and out of time order (teaser, lastposttime, posters).
        NewReply(alice, f["open"], CONTENT + " 1", timestamp=T0 + 100),
        NewReply(bob, f["open"], CONTENT + " 2  ", timestamp=T0 + 50),
        NewReply(admin, f["open"], CONTENT + " 3", to_pid=f["open_main"], timestamp=T0 + 200),
        NewReply(alice, f["open"], CONTENT + " 4", timestamp=T0 + 200),
        # Refused: rules, privileges, state of the topic, the poster.
        NewReply(alice, f["open"], "short", timestamp=T0 + 300),
        NewReply(admin, f["open"], "short", timestamp=T0 + 300),  # an admin may
        NewReply(alice, f["locked"], CONTENT, timestamp=T0 + 300),
        NewReply(admin, f["locked"], CONTENT, timestamp=T0 + 310),
        NewReply(bob, f["deleted"], CONTENT, timestamp=T0 + 300),
        NewReply(f["banned"], f["open"], CONTENT, timestamp=T0 + 300),
        NewReply(999_999_999, f["open"], CONTENT, timestamp=T0 + 300),
        # Topic creates, with tags, refused ones among them.
        NewTopic(alice, f["cid"], "  A new topic  ", CONTENT, ("news", "Go Lang"), T0 + 400),
        NewTopic(bob, f["cid"], "Another one", CONTENT + "  ", (), T0 + 50),
        NewTopic(alice, f["cid"], "Too many tags", CONTENT, NINE_TAGS, T0 + 400),
        NewTopic(alice, f["cid"], "Short", "short", (), T0 + 400),
        NewTopic(admin, f["cid"], "", "short", (), T0 + 400),
        NewTopic(alice, 999_999, "No category", CONTENT, (), T0 + 400),
        NewTopic(alice, f["disabled"], "Disabled", CONTENT, (), T0 + 400),
        NewTopic(f["banned"], f["cid"], "Banned", CONTENT, (), T0 + 400),
        NewReply(bob, f["open"], CONTENT + " 5", to_pid=f["locked_main"], timestamp=T0 + 150),
    ]


def test_a_stream_leaves_the_same_rows_and_answers(db_url: str, forum: dict[str, int]) -> None:
    answers, rows = compare(db_url, stream(forum))
    errors = [a[1]["key"] for a in answers if isinstance(a, tuple) and a[0] == "error"]
    assert errors == ["content-too-short", "topic-locked", "topic-deleted", "user-banned",
                      "no-user", "too-many-tags", "content-too-short", "no-category",
                      "no-privileges", "user-banned"]  # fmt: skip
    in_category = [t for t in rows["topics"] if t["cid"] == forum["cid"]]
    assert len(in_category) == 3 + 3  # the seeded three, three created


def test_replies_only_into_one_topic(db_url: str, forum: dict[str, int]) -> None:
    users = [forum["alice"], forum["bob"], forum["admin"]]
    writes: list[Write] = [
        NewReply(users[i % 3], forum["open"], f"{CONTENT} {i}", timestamp=T0 + 1000 + i * 7 % 13)
        for i in range(40)
    ]
    compare(db_url, writes)


def test_a_reply_that_an_earlier_write_may_answer_is_left_to_the_one_by_one_path(
    db_url: str, forum: dict[str, int]
) -> None:
    unknown_tid = NewReply(forum["alice"], 999_999_999, CONTENT)
    unknown_pid = NewReply(forum["alice"], forum["open"], CONTENT, to_pid=999_999_999)
    create = NewTopic(forum["alice"], forum["cid"], "New", CONTENT)
    answer = NewReply(forum["bob"], forum["open"], CONTENT)
    cases: list[tuple[list[Write], Callable[[list[Any]], bool] | None]] = [
        ([create, unknown_tid], None),
        ([answer, unknown_pid], None),
        ([unknown_tid, create], lambda out: isinstance(out[0], ForumError)),
        ([unknown_pid, answer], lambda out: all(isinstance(o, dict) for o in out)),
    ]
    for writes, check in cases:
        with transaction(db_url) as session:
            if check is None:
                with pytest.raises(Unsure):
                    apply_writes(session, writes)
                assert session.scalar(select(Post.pid).where(Post.content == "New")) is None
            else:
                assert check(apply_writes(session, writes))
            session.rollback()

"""The set-based apply against the writes applied one by one: the same command stream
leaves the same rows and counters, and answers the same (payloads, or the same error
for the writes that fail), on SQLite and PostgreSQL. First ``forum.bulk.writes`` (topic
creates and replies) alone, then the worker's engine on random streams of every hot
command (``forum.bulk.actions`` too).

Each side runs in a transaction that is rolled back, so both start from the same rows;
ids the two sides allocate are compared by their order (a sequence moves on at rollback).
"""

import logging
import random
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum import bookmarks, clock, topics, votes
from forum.bulk.writes import NewReply, NewTopic, Unsure, Write, apply_writes
from forum.categories import set_privileges
from forum.db import transaction
from forum.errors import ForumError
from forum.jobqueue import store
from forum.models import (
    Bookmark,
    Category,
    Job,
    Post,
    PostDiff,
    PostVote,
    Topic,
    TopicFollow,
    TopicIgnore,
    TopicTag,
    User,
)
from forum.rules import NODEBB
from forum.topics import create_topic, reply
from schemas import dump_command
from schemas import posts as p
from schemas import topics as t
from schemas.commands import Command
from tests.support import new_category, new_user
from workers import apply as worker

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


# -- the worker's engine: every hot command, per job vs set-based ------------------------
#
# The same random command streams (creates, replies, edits, votes, bookmarks, follows and
# tag changes, on the same objects, refused ones and missing objects among them) as jobs,
# applied by the worker's per-job path (``apply_job`` in a savepoint each) and by its
# batch path (``apply_in_order``: set-based runs), leave the same rows, counters and job
# answers.

NOW = 1_760_000_000_000  # the frozen clock: both paths stamp edits and rows alike
RECENT = NOW - 60_000  # inside a newbie's edit window (rules: one hour)
MISSING = 999_999_999


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "time", SimpleNamespace(time=lambda: NOW / 1000))


@pytest.fixture
def hot(db_url: str, frozen: None) -> dict[str, Any]:
    """Members (one a moderator of the strict category, one a newbie below the
    reputation an old post's edit needs), a banned one; an open category and a strict
    one (members may not vote or tag there); topics with replies, a deleted reply, a
    locked topic, tags, and votes, bookmarks and follows already made."""
    made: dict[str, Any] = {
        "admin": new_user(db_url, admin=True),
        **{name: new_user(db_url) for name in ("alice", "bob", "carol", "dave", "banned")},
        "cid": new_category(db_url),
        "strict": new_category(db_url, "Strict"),
    }
    alice, bob, carol, dave = made["alice"], made["bob"], made["carol"], made["dave"]
    with transaction(db_url) as session:
        session.execute(update(User).where(User.uid == made["banned"]).values(banned=True))
        session.execute(update(User).where(User.uid.in_([alice, bob])).values(reputation=5))
        pids: list[int] = []
        tids: dict[str, int] = {}
        for name, owner, cid, tags in (("a", alice, made["cid"], ["news", "python"]),
                                       ("b", bob, made["strict"], ["rust"]),
                                       ("locked", dave, made["cid"], [])):  # fmt: skip
            data = create_topic(session, owner, cid, f"Topic {name} here", CONTENT, tags=tags,
                                timestamp=RECENT)  # fmt: skip
            tids[name] = int(data["topicData"]["tid"])  # type: ignore[index]
            pids.append(int(data["postData"]["pid"]))  # type: ignore[index]
            for i, author in enumerate((bob, dave, alice, carol)):
                at = T0 if i == 1 else RECENT + i  # dave's reply is old
                made_reply = reply(session, author, tids[name], CONTENT, timestamp=at)
                pids.append(int(made_reply["pid"]))
        session.execute(update(Topic).where(Topic.tid == tids["locked"]).values(locked=True))
        set_privileges(session, None, made["strict"], ["groups:posts:upvote",
                       "groups:posts:downvote", "groups:topics:tag"], ["registered-users"],
                       grant=False)  # fmt: skip
        set_privileges(session, None, made["strict"], ["moderate"], [str(carol)], grant=True)
        session.execute(update(Post).where(Post.pid == pids[1])
                        .values(deleted=True, deleter_uid=bob))  # fmt: skip
        votes.vote(session, alice, pids[2], 1)  # dave's
        votes.vote(session, carol, pids[0], -1)
        bookmarks.bookmark(session, carol, pids[2])
        topics.follow_topic(session, bob, tids["a"])
        topics.ignore_topic(session, dave, tids["a"])
        topics.ignore_topic(session, carol, tids["b"])
    made["pids"], made["tids"] = pids, tids
    return made


def random_stream(f: dict[str, Any], seed: int, length: int = 80) -> list[tuple[int, Command]]:
    """``length`` commands by random actors on random objects: mostly conflicting (a few
    posts and topics), some refused, some on objects that do not exist."""
    rnd = random.Random(seed)
    actors = [f["admin"], f["alice"], f["bob"], f["carol"], f["dave"], f["alice"], f["bob"],
              f["dave"], f["banned"], MISSING]  # fmt: skip
    pids = [*f["pids"], MISSING, MISSING]
    tids = [*f["tids"].values(), MISSING]
    contents = [CONTENT + " edited", CONTENT + " again  ", "short", "  Still long enough  "]
    titles = [None, None, "A brand new title", "x", "   "]
    tag_sets = [["news"], ["news", "python"], ["Go", "rust", "go"], list(NINE_TAGS), ["a"]]

    def one() -> Command:
        roll = rnd.random()
        pid, tid = rnd.choice(pids), rnd.choice(tids)
        if roll < 0.25:
            return p.VotePost(pid=pid, delta=rnd.choice([1, 1, -1, 0.5, -3, 0]))
        if roll < 0.33:
            return p.UnvotePost(pid=pid)
        if roll < 0.43:
            kind = rnd.choice([p.BookmarkPost, p.UnbookmarkPost])
            return kind(pid=pid)
        if roll < 0.50:
            return rnd.choice([t.FollowTopic, t.UnfollowTopic])(tid=tid)
        if roll < 0.65:
            return p.EditPost(pid=pid, content=rnd.choice(contents), title=rnd.choice(titles),
                              tags=rnd.choice([None, None, *tag_sets]))  # fmt: skip
        if roll < 0.70:
            owner = rnd.choice([tid, *f["tids"].values()])
            return t.EditTopicPost(tid=owner, pid=pid, content=rnd.choice(contents),
                                   title=rnd.choice(titles))  # fmt: skip
        if roll < 0.80:
            kind = rnd.choice([t.ReplaceTopicTags, t.AddTopicTags])
            return kind(tid=tid, tags=rnd.choice(tag_sets))
        if roll < 0.83:
            return t.ClearTopicTags(tid=tid)
        if roll < 0.93:
            return t.ReplyTopic(tid=rnd.choice(list(f["tids"].values())),
                                content=rnd.choice(contents))  # fmt: skip
        return t.CreateTopic(cid=rnd.choice([f["cid"], f["strict"]]), title="A new topic",
                             content=CONTENT, tags=rnd.choice(tag_sets[:3]))  # fmt: skip

    return [(rnd.choice(actors), one()) for _ in range(length)]


def as_jobs(session: Session, stream: list[tuple[int, Command]]) -> list[Job]:
    rows = [
        store.new_job(store.new_job_id(), command.kind, "v3", actor, dump_command(command),
                      idempotency_key=None, request_hash=None,
                      ordering_key=command.ordering_key())
        for actor, command in stream
    ]  # fmt: skip
    store.insert_jobs(session, rows)
    ids = [row["id"] for row in rows]
    return list(session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.seq)))


def per_job(session: Session, jobs: list[Job]) -> None:
    for job in jobs:
        worker.apply_job(session, job, NODEBB)


def set_based(session: Session, jobs: list[Job]) -> None:
    worker.apply_in_order(session, jobs, NODEBB)


def hot_snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    snap = snapshot(session)

    def rows(*columns: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in session.execute(select(*columns).order_by(*columns[:2]))]

    snap["users"] = rows(User.uid, User.postcount, User.topiccount, User.lastposttime,
                         User.reputation)  # fmt: skip
    snap["votes"] = rows(*PostVote.__table__.c)
    snap["bookmarks"] = rows(*Bookmark.__table__.c)
    snap["follows"] = rows(*TopicFollow.__table__.c)
    snap["ignores"] = rows(*TopicIgnore.__table__.c)
    snap["diffs"] = rows(*PostDiff.__table__.c)
    return snap


def compare_jobs(url: str, stream: list[tuple[int, Command]]) -> list[Any]:
    """Both paths' job answers and rows, ids renamed by order; asserts they agree.
    Returns the answers."""
    results = []
    for apply in (per_job, set_based):
        with transaction(url) as session:
            ids = Ids(session)
            jobs = as_jobs(session, stream)
            apply(session, jobs)
            answers = [[job.state, orjson.loads(orjson.dumps(job.result)), job.error]
                       for job in jobs]  # fmt: skip
            snap = hot_snapshot(session)
            extra = {k: snap[k] for k in ("votes", "bookmarks", "follows", "ignores", "diffs")}
            extra["votes"] = [(ids.name("pid", r[0]), *r[1:]) for r in extra["votes"]]
            results.append(([ids.payload(a) for a in answers], ids.rows(snap), extra))
            session.rollback()
    assert results[1][0] == results[0][0]  # the jobs' answers
    assert results[1][1] == results[0][1]  # topics, posts, tags, categories, users
    assert results[1][2] == results[0][2]  # votes, bookmarks, follows, ignores, edit history
    return results[0][0]


@pytest.mark.parametrize("seed", range(6))
def test_random_hot_streams_leave_the_same_rows_and_answers(
    db_url: str, hot: dict[str, Any], seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=worker.__name__)
    answers = compare_jobs(db_url, random_stream(hot, seed))
    # The stream is varied: jobs succeed, and fail for many reasons.
    keys = {a[2]["key"] for a in answers if a[2]}
    assert sum(a[0] == "succeeded" for a in answers) >= 20
    assert {"no-user", "no-privileges"} <= keys
    assert keys & {"no-post", "no-topic", "invalid-pid"}  # missing objects
    assert len(keys) >= 6, keys
    # And the set-based runs did apply them (no fallback but the creates' Unsure).
    fallbacks = [r for r in caplog.records if "one by one" in r.getMessage()]
    assert all("Unsure" in r.getMessage() for r in fallbacks), fallbacks


def test_conflicting_jobs_on_one_object_apply_in_seq_order(
    db_url: str, hot: dict[str, Any]
) -> None:
    """Several votes by different users on one post, a vote then an unvote, votes that
    lift a newbie's reputation over what an edit of an old post needs (and take it back),
    two edits, tags replaced then added to, a follow then an unfollow."""
    admin, alice, bob, carol, dave = (hot[n] for n in ("admin", "alice", "bob", "carol", "dave"))
    a, strict = hot["tids"]["a"], hot["tids"]["b"]
    main, old = hot["pids"][0], hot["pids"][2]  # dave's old reply; dave has 1 reputation

    def edit(text: str) -> tuple[int, Command]:
        return dave, p.EditPost(pid=old, content=f"{CONTENT} {text}")

    stream: list[tuple[int, Command]] = [
        (bob, p.VotePost(pid=main, delta=1)),
        (carol, p.VotePost(pid=main, delta=1)),  # had voted -1: reputation moves by 2
        (dave, p.VotePost(pid=main, delta=-1)),
        (dave, p.UnvotePost(pid=main)),
        (dave, p.VotePost(pid=main, delta=1)),
        (alice, p.VotePost(pid=main, delta=1)),  # her own post
        edit("too late"),
        (bob, p.VotePost(pid=old, delta=1)),
        edit("still too late"),
        (carol, p.VotePost(pid=old, delta=1)),  # dave: 3, no longer a newbie
        edit("one"),
        edit("two"),
        (carol, p.UnvotePost(pid=old)),
        edit("too late again"),
        (carol, p.EditPost(pid=hot["pids"][4], content=CONTENT + " hers")),
        (carol, p.EditPost(pid=hot["pids"][3], content=CONTENT + " not hers")),
        (alice, p.EditPost(pid=main, content=CONTENT, title="Renamed", tags=["xone", "xtwo"])),
        (alice, t.AddTopicTags(tid=a, tags=["xthree"])),
        (bob, t.ReplaceTopicTags(tid=strict, tags=["yone"])),  # strict: no topics:tag
        (carol, t.ReplaceTopicTags(tid=strict, tags=["yone"])),  # its moderator: no tag either
        (admin, t.ReplaceTopicTags(tid=strict, tags=["yone", "ytwo"])),
        (carol, t.FollowTopic(tid=a)),
        (carol, t.UnfollowTopic(tid=a)),
        (carol, t.FollowTopic(tid=a)),
        (bob, t.UnfollowTopic(tid=a)),
        (carol, p.BookmarkPost(pid=main)),
        (carol, p.BookmarkPost(pid=main)),
        (carol, p.UnbookmarkPost(pid=old)),
        (carol, p.BookmarkPost(pid=old)),
        (bob, p.VotePost(pid=hot["pids"][7], delta=-1)),  # strict: no posts:downvote
        (bob, p.VotePost(pid=hot["pids"][1], delta=1)),  # a deleted post
    ]
    answers = compare_jobs(db_url, stream)
    ok, expired = ("succeeded", None), ("failed", "post-edit-duration-expired")
    assert [(a[0], a[2]["key"] if a[2] else None) for a in answers] == [
        ok, ok, ok, ok, ok, ("failed", "self-vote"),
        expired, ok, expired, ok, ok, ok, ok, expired,
        ok, ("failed", "no-privileges"), ok, ok,
        ("failed", "no-privileges"), ("failed", "no-privileges"), ok,
        ok, ok, ok, ok,
        ok, ("failed", "already-bookmarked"), ok, ok,
        ("failed", "no-privileges"), ("failed", "post-deleted"),
    ]  # fmt: skip
    assert answers[4][1]["post"]["upvotes"] == 3  # bob, carol, dave
    assert answers[11][1]["post"]["content"] == CONTENT + " two"
    assert [tag["value"] for tag in answers[17][1]["tags"]] == ["xone", "xtwo", "xthree"]


def test_a_job_the_database_refuses_fails_alone(db_url: str, hot: dict[str, Any]) -> None:
    """An edit whose text PostgreSQL refuses (a NUL) makes the set-based run fail: the
    run is applied one job at a time, that job fails with its error, the rest commit."""
    main = hot["pids"][0]
    stream: list[tuple[int, Command]] = [
        (hot["bob"], p.VotePost(pid=main, delta=1)),
        (hot["alice"], p.EditPost(pid=main, content=CONTENT + " \x00 NUL")),
        (hot["carol"], p.BookmarkPost(pid=main)),
    ]
    answers = compare_jobs(db_url, stream)
    expected = "failed" if db_url.startswith("postgresql") else "succeeded"
    assert [a[0] for a in answers] == ["succeeded", expected, "succeeded"]

"""``forum.bulk.apply_items`` and the bulk worker's chunk function, on both databases."""

import math
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from devstack.databases import pg_dsn
from forum import bulk
from forum.bulk.apply import ItemResult, _cached_uids, _title_slug, apply_items
from forum.bulk.sql import copy_rows, lookup
from forum.clock import now_ms
from forum.db import engine_for, session_factory, transaction
from forum.jobqueue import chunks as bulk_jobs
from forum.jobqueue import store as jobs
from forum.jobqueue.sweep import recover
from forum.models import Category, Job, JobChunk, Post, Topic, User
from forum.rules import NODEBB, Rules
from forum.text import slugify
from forum.topics import create_topic, reply
from forum.users import create_user, delete_user
from forumq.settings import get_settings
from schemas.bulk import parse_item
from tests.support import commit_once_blocked, new_category, new_user, unique
from workers import bulk as bulk_worker
from workers.bulk import apply_chunk, bulk_chunk

CONTENT = "Imported content that is long enough"
T0 = 1_500_000_000_000


def _items(prefix: str) -> list[dict[str, Any]]:
    """A small forum: 2 users, a category, 2 topics and replies (one to another reply)."""
    raw = [
        {"type": "user", "external_id": f"{prefix}u1", "username": f"{prefix}one",
         "timestamp": T0 - 1000},
        {"type": "user", "external_id": f"{prefix}u2", "username": f"{prefix}two"},
        {"type": "category", "external_id": f"{prefix}c1", "name": "Imported"},
        {"type": "topic", "external_id": f"{prefix}t1", "category": f"{prefix}c1",
         "user": f"{prefix}u1", "title": "First", "content": CONTENT, "timestamp": T0,
         "tags": ["imported", "x"]},
        {"type": "reply", "external_id": f"{prefix}r1", "topic": f"{prefix}t1",
         "user": f"{prefix}u2", "content": CONTENT, "timestamp": T0 + 10},
        {"type": "reply", "external_id": f"{prefix}r2", "topic": f"{prefix}t1",
         "user": f"{prefix}u1", "content": CONTENT, "timestamp": T0 + 5},
        {"type": "reply", "external_id": f"{prefix}r3", "topic": f"{prefix}t1",
         "user": f"{prefix}u2", "content": CONTENT, "timestamp": T0 + 20, "to": f"{prefix}r1"},
        {"type": "topic", "external_id": f"{prefix}t2", "category": f"{prefix}c1",
         "user": f"{prefix}u2", "title": "Second", "content": CONTENT, "timestamp": T0 + 1},
    ]  # fmt: skip
    return [parse_item(item) for item in raw]


def _later_replies(prefix: str) -> list[dict[str, Any]]:
    """A second chunk: replies to a topic that now exists (an older and a newer one)."""
    raw = [
        {"type": "reply", "external_id": f"{prefix}r4", "topic": f"{prefix}t1",
         "user": f"{prefix}u1", "content": CONTENT, "timestamp": T0 + 15},
        {"type": "reply", "external_id": f"{prefix}r5", "topic": f"{prefix}t1",
         "user": f"{prefix}u1", "content": CONTENT, "timestamp": T0 + 30, "to": f"{prefix}r3"},
    ]  # fmt: skip
    return [parse_item(item) for item in raw]


def _apply(url: str, items: list[dict[str, Any]], actor: int | None = None,
           start: int = 0, rules: Rules = NODEBB) -> list[Any]:  # fmt: skip
    with transaction(url) as session:
        outcome = apply_items(session, actor, list(enumerate(items, start)), rules=rules)
    assert not outcome.deferred
    return outcome.results


def _topic_state(url: str, tid: int) -> tuple[Any, ...]:
    with transaction(url) as session:
        topic = session.get(Topic, tid)
        assert topic is not None
        pids = list(session.scalars(select(Post.pid).where(Post.tid == tid).order_by(Post.pid)))
        teaser = pids.index(topic.teaser_pid) if topic.teaser_pid else None
        replies = [
            session.get(Post, pid).replies  # type: ignore[union-attr]
            for pid in pids
        ]
        return (topic.postcount, topic.postercount, topic.lastposttime, teaser, replies,
                pids.index(topic.main_pid))  # fmt: skip


def _user_state(url: str, uid: int) -> tuple[int, int, int]:
    with transaction(url) as session:
        user = session.get(User, uid)
        assert user is not None
        return user.topiccount, user.postcount, user.lastposttime


def test_import_counters_equal_single_writes(db_url: str) -> None:
    prefix = unique("p")
    first = _apply(db_url, _items(prefix))
    assert [r.state for r in first] == ["created"] * 8
    ids = {r.external_id: r.id for r in first}
    second = _apply(db_url, _later_replies(prefix), start=8)
    assert [r.state for r in second] == ["created", "created"]
    ids.update({r.external_id: r.id for r in second})

    # The same history through the single-write functions.
    u1, u2 = new_user(db_url), new_user(db_url)
    cid = new_category(db_url)
    with transaction(db_url) as session:
        t1 = create_topic(session, u1, cid, "First", CONTENT, timestamp=T0)["topicData"]["tid"]
        r1 = reply(session, u2, t1, CONTENT, timestamp=T0 + 10)["pid"]
        reply(session, u1, t1, CONTENT, timestamp=T0 + 5)
        r3 = reply(session, u2, t1, CONTENT, timestamp=T0 + 20, to_pid=r1)["pid"]
        create_topic(session, u2, cid, "Second", CONTENT, timestamp=T0 + 1)
        reply(session, u1, t1, CONTENT, timestamp=T0 + 15)
        reply(session, u1, t1, CONTENT, timestamp=T0 + 30, to_pid=r3)

    assert _topic_state(db_url, ids[f"{prefix}t1"]) == _topic_state(db_url, t1)  # type: ignore[arg-type]
    assert _user_state(db_url, ids[f"{prefix}u1"])[:2] == _user_state(db_url, u1)[:2]
    assert _user_state(db_url, ids[f"{prefix}u1"])[2] == _user_state(db_url, u1)[2] == T0 + 30
    assert _user_state(db_url, ids[f"{prefix}u2"]) == _user_state(db_url, u2)
    with transaction(db_url) as session:
        imported = session.get(Category, ids[f"{prefix}c1"])
        single = session.get(Category, cid)
        assert imported is not None and single is not None
        assert (imported.topic_count, imported.post_count) == (2, 7)
        assert (single.topic_count, single.post_count) == (2, 7)
        user = session.get(User, ids[f"{prefix}u1"])
        assert user is not None and user.joindate == T0 - 1000
        topic = session.get(Topic, ids[f"{prefix}t1"])
        assert topic is not None and topic.slug == f"{topic.tid}/first"
        assert topic.timestamp == T0 and topic.external_id == f"{prefix}t1"


def test_resent_items_are_existing_and_create_nothing(db_url: str) -> None:
    prefix = unique("e")
    items = _items(prefix)
    first = _apply(db_url, items)
    with transaction(db_url) as session:
        posts_before = session.scalar(select(func.count()).select_from(Post))
    again = _apply(db_url, items)
    assert [r.state for r in again] == ["existing"] * len(items)
    assert [r.id for r in again] == [r.id for r in first]
    with transaction(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Post)) == posts_before


def test_bad_items_fail_alone(db_url: str) -> None:
    prefix = unique("b")
    uid = new_user(db_url)
    items = [
        parse_item({"type": "category", "external_id": f"{prefix}c", "name": "Cat"}),
        parse_item({"type": "topic", "external_id": f"{prefix}t1", "category": f"{prefix}nope",
                    "uid": uid, "title": "T", "content": CONTENT}),
        parse_item({"type": "topic", "external_id": f"{prefix}t2", "category": f"{prefix}c",
                    "uid": 987654321, "title": "T", "content": CONTENT}),
        parse_item({"type": "topic", "external_id": f"{prefix}t3", "category": f"{prefix}c",
                    "uid": uid, "title": "T", "content": CONTENT}),
        parse_item({"type": "reply", "external_id": f"{prefix}r1", "tid": 987654321,
                    "uid": uid, "content": CONTENT}),
        parse_item({"type": "user", "external_id": f"{prefix}u", "username": "<bad>"}),
    ]  # fmt: skip
    results = _apply(db_url, items)
    assert [r.state for r in results] == [
        "created", "failed", "failed", "created", "failed", "failed"
    ]  # fmt: skip
    assert results[1].error["key"] == "unknown-external-id"  # type: ignore[index]
    assert results[1].error["args"] == ["category", f"{prefix}nope"]  # type: ignore[index]
    assert results[2].error["key"] == "no-user"  # type: ignore[index]
    assert results[4].error["key"] == "no-topic"  # type: ignore[index]
    assert results[5].error["key"] == "invalid-username"  # type: ignore[index]


def _user_item(prefix: str, n: int, email: str, **extra: Any) -> dict[str, Any]:
    return parse_item({"type": "user", "external_id": f"{prefix}u{n}",
                       "username": f"{prefix}{n}", "email": email, **extra})  # fmt: skip


def _emails_held(url: str, email: str) -> list[str]:
    with transaction(url) as session:
        return list(session.scalars(select(User.email).where(
            func.lower(User.email) == email.lower()).order_by(User.uid)))  # fmt: skip


def test_user_items_refuse_an_address_held_in_any_case(db_url: str) -> None:
    """Against users that exist and within one chunk; an item that fails for another
    reason does not claim its address; addresses keep the case they were given."""
    prefix = unique("m")
    held = f"{prefix}.Held@Example.org"
    with transaction(db_url) as session:
        create_user(session, None, unique(), email=held)
    fresh = f"{prefix}.New@Example.org"
    results = _apply(db_url, [
        _user_item(prefix, 0, held.upper()),
        _user_item(prefix, 1, fresh, password="short"),  # fails: password-too-short
        _user_item(prefix, 2, fresh.lower()),
        _user_item(prefix, 3, fresh.upper()),
        _user_item(prefix, 4, fresh),
    ])  # fmt: skip
    assert [r.state for r in results] == ["failed", "failed", "created", "failed", "failed"]
    keys = [r.error["key"] if r.error else None for r in results]
    assert keys == ["email-taken", "password-too-short", None, "email-taken", "email-taken"]
    assert _emails_held(db_url, held) == [held]
    assert _emails_held(db_url, fresh) == [fresh.lower()]


def test_a_concurrent_insert_of_the_address_fails_the_user_item_with_email_taken(
    pg_url: str,
) -> None:
    """A chunk that looked the address up before another writer committed it: the
    index makes the chunk wait, then refuses it; the run with full lookups finds the
    address taken and fails that item alone (no retry loop, no crash)."""
    admin = new_user(pg_url, admin=True)
    prefix = unique("k")
    email = f"{prefix}.Race@Example.org"
    items = [_user_item(prefix, 0, email.lower()), _user_item(prefix, 1, f"{prefix}@x.org")]
    job_id = _job(pg_url, admin, items)
    first = session_factory(pg_url)()
    try:
        create_user(first, None, unique(), email=email)  # flushed, not committed
        with ThreadPoolExecutor(1) as pool:
            chunk = pool.submit(apply_chunk, pg_url, job_id, list(enumerate(items)),
                                optimistic=True)  # fmt: skip
            commit_once_blocked(first, pg_url)
            outcome = chunk.result(timeout=60)
    finally:
        first.close()
    assert outcome.finished
    results = _full_results(pg_url, job_id)
    assert [r["state"] for r in results] == ["failed", "created"]
    assert results[0]["error"]["key"] == "email-taken"
    assert _emails_held(pg_url, email) == [email]


def test_non_admin_actor_creates_nothing(db_url: str) -> None:
    prefix = unique("n")
    uid = new_user(db_url)
    results = _apply(db_url, _items(prefix), actor=uid)
    assert {r.state for r in results} == {"failed"}
    assert results[0].error["key"] == "no-privileges"  # type: ignore[index]
    with transaction(db_url) as session:
        found = session.scalar(select(User).where(User.external_id == f"{prefix}u1"))
        assert found is None


def _job(url: str, actor: int, items: list[dict[str, Any]]) -> str:
    """A bulk job queued now, as the API stores one. Queued long ago it would be stale:
    the sweeper of a worker on the same database (the session's ``stack``) would
    re-publish its chunks, and that worker apply them beside the test's own calls."""
    job_id, now = uuid.uuid4().hex, now_ms()
    with transaction(url) as session:
        session.add(
            Job(id=job_id, kind="bulk.import", router="v2", actor_uid=actor,
                command={"kind": "bulk.import", "job_id": job_id,
                         "chunks": [bulk_jobs.pack(enumerate(items))]},
                state="queued", created_at=now, enqueued_at=now, attempts=0,
                progress=bulk_jobs.new_progress(len(items)))
        )  # fmt: skip
    return job_id


def test_redelivered_chunk_applies_nothing_twice(db_url: str) -> None:
    admin = new_user(db_url, admin=True)
    prefix = unique("r")
    items = _items(prefix) + _later_replies(prefix)
    job_id = _job(db_url, admin, items)
    pairs = list(enumerate(items))
    first = apply_chunk(db_url, job_id, pairs[:5])
    with transaction(db_url) as session:
        posts = session.scalar(select(func.count()).select_from(Post))
    again = apply_chunk(db_url, job_id, pairs[:5])  # the same message, redelivered
    assert first.applied == 5 and again.applied == 0 and not first.finished
    with transaction(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Post)) == posts
        job = jobs.get(session, job_id)
        assert job is not None and job.state == "running"
        assert job.progress == {"done": 5, "failed": 0, "existing": 0, "total": 10}
        # Counted once, as running since the first chunk began.
        started = job.started_at
        assert job.attempts == 1 and started is not None and started >= job.created_at
    last = apply_chunk(db_url, job_id, pairs[5:])
    assert last.finished
    with transaction(db_url) as session:
        job = jobs.get(session, job_id)
        assert job is not None and job.state == "succeeded"
        assert job.attempts == 1 and job.started_at == started
        assert job.result == {
            "job_id": job.id,
            "total": 10,
            "succeeded": 10,
            "failed": 0,
            "existing": 0,
        }
        rows = bulk_jobs.items_page(session, job_id, 0, 100)
        assert [r["index"] for r in rows] == list(range(10))
        assert {r["state"] for r in rows} == {"created"}
        topic = session.scalar(select(Topic).where(Topic.external_id == f"{prefix}t1"))
        assert topic is not None and topic.postcount == 6


def test_reply_waits_for_its_topic_in_an_earlier_chunk(db_url: str) -> None:
    admin = new_user(db_url, admin=True)
    prefix = unique("d")
    items = _items(prefix)
    job_id = _job(db_url, admin, items)
    pairs = list(enumerate(items))
    early = apply_chunk(db_url, job_id, pairs[4:])  # replies arrive before their topic
    # The replies' topic, and topic t2's user and category, come in the first chunk.
    assert early.applied == 0
    assert [i for i, _ in early.deferred] == [4, 5, 6, 7]
    apply_chunk(db_url, job_id, pairs[:4])
    done = apply_chunk(db_url, job_id, early.deferred)
    assert done.applied == 4 and done.finished and not done.deferred
    with transaction(db_url) as session:
        job = jobs.get(session, job_id)
        assert job is not None and job.result == {
            "job_id": job.id,
            "total": 8,
            "succeeded": 8,
            "failed": 0,
            "existing": 0,
        }


def test_items_recorded_by_another_delivery_are_refused(db_url: str) -> None:
    """Two deliveries that both passed the 'already applied?' check (e.g. a recovered
    chunk racing the original): the one that records second is rolled back."""
    admin = new_user(db_url, admin=True)
    prefix = unique("x")
    items = _items(prefix)[:4]  # the job completes: no later test waits for it
    job_id = _job(db_url, admin, items)
    apply_chunk(db_url, job_id, list(enumerate(items)))
    stale = [
        ItemResult(i, "reply", f"{prefix}late{i}", "failed", error={"key": "k"}) for i in (2, 3)
    ]
    with pytest.raises(bulk_jobs.ResultsConflict), transaction(db_url) as session:
        bulk_jobs.store_results(session, job_id, stale)
        bulk_jobs.advance(session, job_id, stale)
    with transaction(db_url) as session:
        rows = bulk_jobs.items_page(session, job_id, 0, 100)
        assert [r["index"] for r in rows] == [0, 1, 2, 3]
        job = jobs.get(session, job_id)
        assert job is not None and job.progress == {
            "done": 4,
            "failed": 0,
            "existing": 0,
            "total": 4,
        }


def _results(url: str, job_id: str) -> list[tuple[str, int | None]]:
    with transaction(url) as session:
        return [(r["state"], r["id"]) for r in bulk_jobs.items_page(session, job_id, 0, 100)]


def test_first_delivery_of_items_imported_before_gives_them_as_existing(db_url: str) -> None:
    """A first delivery does not look up its own topics and replies: a re-sent import
    trips their unique external ids and runs again with the full lookups."""
    admin = new_user(db_url, admin=True)
    prefix = unique("o")
    items = _items(prefix)
    first = _job(db_url, admin, items)
    apply_chunk(db_url, first, list(enumerate(items)), optimistic=True)
    created = _results(db_url, first)
    assert {state for state, _ in created} == {"created"}
    with transaction(db_url) as session:
        posts = session.scalar(select(func.count()).select_from(Post))
    again = _job(db_url, admin, items)  # the importer sends the same items again
    outcome = apply_chunk(db_url, again, list(enumerate(items)), optimistic=True)
    assert outcome.finished
    assert _results(db_url, again) == [("existing", forum_id) for _, forum_id in created]
    with transaction(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Post)) == posts


def test_first_delivery_of_an_imported_reply_that_would_fail_gives_it_as_existing(
    db_url: str,
) -> None:
    """Not inserted, so no unique index can tell: the failed items are checked."""
    admin = new_user(db_url, admin=True)
    prefix = unique("f")
    items = _items(prefix)
    first = _job(db_url, admin, items)
    apply_chunk(db_url, first, list(enumerate(items)), optimistic=True)
    pid = _results(db_url, first)[4][1]
    resent = parse_item({"type": "reply", "external_id": f"{prefix}r1", "tid": 10**9,
                         "uid": admin, "content": CONTENT})  # fmt: skip
    again = _job(db_url, admin, [resent])
    apply_chunk(db_url, again, [(0, resent)], optimistic=True)
    assert _results(db_url, again) == [("existing", pid)]


Message = list[Any]  # a bulk_chunk message's args: job id, packed items, defers[, suspect]


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """The chunk messages the worker task publishes (split halves, deferred items): the
    tests deliver them themselves, instead of a broker."""
    sent: list[Message] = []

    def publish(job_id: str, packed: str, *, defers: int = 0, countdown: float | None = None,
                suspect: bool = False) -> None:  # fmt: skip
        sent.append([job_id, packed, defers, suspect])

    monkeypatch.setattr(bulk_worker.publisher, "chunk", publish)
    return sent


@pytest.fixture
def worker_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``db_url``, the database the worker task works on."""
    monkeypatch.setattr(get_settings(), "database_url", db_url)
    return db_url


def _deliver(first: Message, published: list[Message], retries: int = 0) -> int:
    """Deliver ``first`` and every message published since, as workers would, until
    none is left. A delivery that dies (SystemExit) is delivered again with its retry
    count raised, as Celery's retry_on_worker_lost does. Returns how many died."""
    queue, deaths = [(first, retries)], 0
    while queue:
        args, retries = queue.pop(0)
        try:
            bulk_chunk.apply(args=args, retries=retries)
        except SystemExit:
            deaths += 1
            queue.append((args, retries + 1))
        queue += [(message, 0) for message in published]
        published.clear()
        assert deaths < 50, "a chunk keeps killing its worker"
    return deaths


def _poison(monkeypatch: pytest.MonkeyPatch, external_id: str, fault: BaseException) -> None:
    """Applying a chunk that holds the item ``external_id`` raises ``fault``."""
    real = bulk.apply_items

    def apply_items(session: Any, actor: int | None, items: Any, **options: Any) -> Any:
        if any(item["external_id"] == external_id for _, item in items):
            raise fault
        return real(session, actor, items, **options)

    monkeypatch.setattr(bulk, "apply_items", apply_items)


def _topics(prefix: str, count: int) -> list[dict[str, Any]]:
    raw = [
        {"type": "user", "external_id": f"{prefix}u", "username": f"{prefix}user"},
        {"type": "category", "external_id": f"{prefix}c", "name": "Imported"},
    ] + [
        {"type": "topic", "external_id": f"{prefix}t{i}", "category": f"{prefix}c",
         "user": f"{prefix}u", "title": f"Topic {i}", "content": CONTENT, "timestamp": T0 + i}
        for i in range(count)
    ]  # fmt: skip
    return [parse_item(item) for item in raw]


def _assert_applied_but(url: str, job_id: str, items: list[dict[str, Any]], bad: int) -> dict:
    """The job finished with item ``bad`` failed and every other item created once;
    returns the bad item's error."""
    rows = _full_results(url, job_id)
    assert [row["index"] for row in rows] == list(range(len(items)))
    assert [row["state"] for row in rows] == [
        "failed" if i == bad else "created" for i in range(len(items))
    ]
    with transaction(url) as session:
        job = jobs.get(session, job_id)
        assert job is not None and job.state == "succeeded"
        assert job.progress == {"done": len(items), "failed": 1, "existing": 0, "total": len(items)}
        assert job.result == {
            "job_id": job.id,
            "total": len(items),
            "succeeded": len(items) - 1,
            "failed": 1,
            "existing": 0,
        }
        prefix = items[2]["external_id"][:-2]
        titles = session.scalars(
            select(Topic.title).where(Topic.external_id.like(f"{prefix}t%"))
        ).all()
    assert sorted(titles) == sorted(i["title"] for n, i in enumerate(items[2:], 2) if n != bad)
    return rows[bad]["error"]


def test_an_item_that_raises_fails_alone_and_the_rest_is_applied(
    worker_db: str, published: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, prefix = new_user(worker_db, admin=True), unique("p")
    items = _topics(prefix, 9)
    job_id = _job(worker_db, admin, items)
    _poison(monkeypatch, f"{prefix}t5", RuntimeError("a bug this item trips"))
    assert _deliver([job_id, bulk_jobs.pack(enumerate(items)), 0], published) == 0
    error = _assert_applied_but(worker_db, job_id, items, bad=7)
    assert error == {"kind": "internal", "key": "internal-server-error",
                     "message": "[[error:internal]]", "args": []}  # fmt: skip


def test_an_item_that_kills_its_worker_fails_after_max_attempts(
    worker_db: str, published: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, prefix = new_user(worker_db, admin=True), unique("k")
    items = _topics(prefix, 9)
    job_id = _job(worker_db, admin, items)
    _poison(monkeypatch, f"{prefix}t5", SystemExit("the worker died"))
    deaths = _deliver([job_id, bulk_jobs.pack(enumerate(items)), 0], published)
    error = _assert_applied_but(worker_db, job_id, items, bad=7)
    assert error is not None and error["key"] == "too-many-attempts"
    # Once per halving, then max_attempts times alone.
    max_attempts = get_settings().max_attempts
    assert max_attempts < deaths <= math.ceil(math.log2(len(items))) + max_attempts


@pytest.mark.parametrize("known", ["retried after a death", "re-published by the sweeper"])
def test_a_chunk_delivered_again_without_a_fault_is_applied_in_full(
    worker_db: str, published: list[Message], known: str
) -> None:
    """A worker restarted mid-chunk is no poison: the chunk is split, and applied."""
    admin, prefix = new_user(worker_db, admin=True), unique("g")
    items = _topics(prefix, 4)
    job_id = _job(worker_db, admin, items)
    packed = bulk_jobs.pack(enumerate(items))
    if known == "retried after a death":
        assert _deliver([job_id, packed, 0], published, retries=1) == 0
    else:
        assert recover(worker_db, bulk_worker.publisher, job_id) == len(items)
        assert [message[3] for message in published] == [True]  # suspect: counts a crash
        assert _deliver(published.pop(), published) == 0
    rows = _full_results(worker_db, job_id)
    assert [row["state"] for row in rows] == ["created"] * len(items)
    with transaction(worker_db) as session:
        recorded = session.scalars(select(JobChunk.count).where(JobChunk.job_id == job_id))
        assert sorted(recorded) == [3, 3]  # split in two halves, each applied
        job = jobs.get(session, job_id)
        assert job is not None and job.result == {
            "job_id": job.id,
            "total": 6,
            "succeeded": 6,
            "failed": 0,
            "existing": 0,
        }
        posts = session.scalar(select(func.count()).select_from(Post))
    # Delivered once more (the first delivery's message, redelivered): nothing twice.
    assert _deliver([job_id, packed, 0], published, retries=2) == 0
    with transaction(worker_db) as session:
        assert session.scalar(select(func.count()).select_from(Post)) == posts


def test_an_item_the_database_refuses_fails_alone(
    pg_url: str, published: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL takes no NUL in text (the API's schema lets it through): the COPY of
    the item's chunk fails, and before, the chunk was published again without end."""
    monkeypatch.setattr(get_settings(), "database_url", pg_url)
    admin, prefix = new_user(pg_url, admin=True), unique("z")
    items = _topics(prefix, 5)
    items[4] = {**items[4], "content": "Imported content with a NUL \x00 in it"}
    job_id = _job(pg_url, admin, items)
    assert _deliver([job_id, bulk_jobs.pack(enumerate(items)), 0], published) == 0
    error = _assert_applied_but(pg_url, job_id, items, bad=4)
    assert error == {"kind": "bad-request", "key": "invalid-data",
                     "message": "[[error:invalid-data]]", "args": []}  # fmt: skip


def test_a_chunk_the_database_keeps_failing_waits_for_the_sweeper(
    worker_db: str, published: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error is retried MAX_RETRIES times; then the task gives up (its message
    is done with, nothing recorded, nothing published), the job stays unfinished, and
    the sweeper's recovery publishes the chunk's items again, which then apply."""
    admin, prefix = new_user(worker_db, admin=True), unique("o")
    items = _topics(prefix, 3)
    job_id = _job(worker_db, admin, items)
    attempts: list[int] = []

    def database_down(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        raise OperationalError("SELECT 1", {}, Exception("the server closed the connection"))

    real_apply_chunk = bulk_worker.apply_chunk
    monkeypatch.setattr(bulk_worker, "apply_chunk", database_down)
    given_up = bulk_chunk.apply(args=[job_id, bulk_jobs.pack(enumerate(items)), 0])
    assert isinstance(given_up.result, OperationalError)
    assert len(attempts) == bulk_worker.MAX_RETRIES + 1
    assert published == []
    assert _full_results(worker_db, job_id) == []
    with transaction(worker_db) as session:
        job = jobs.get(session, job_id)
        assert job is not None and job.state == "queued"
        assert job.progress == {"done": 0, "failed": 0, "existing": 0, "total": len(items)}

    monkeypatch.setattr(bulk_worker, "apply_chunk", real_apply_chunk)
    assert recover(worker_db, bulk_worker.publisher, job_id) == len(items)
    assert _deliver(published.pop(), published) == 0
    assert [row["state"] for row in _full_results(worker_db, job_id)] == ["created"] * len(items)


def test_crashes_are_counted_per_job_and_items(db_url: str) -> None:
    admin = new_user(db_url, admin=True)
    job_id = _job(db_url, admin, _topics(unique("c"), 2))
    with transaction(db_url) as session:
        counts = [bulk_jobs.count_crash(session, job_id, 0, 4) for _ in range(3)]
        counts += [bulk_jobs.count_crash(session, job_id, 0, 2)]
        counts += [bulk_jobs.count_crash(session, job_id, 2, 2)]
    assert counts == [1, 2, 3, 1, 1]
    with transaction(db_url) as session:  # the job completes: no later test waits for it
        session.execute(update(Job).where(Job.id == job_id).values(state="succeeded"))


def _full_results(url: str, job_id: str) -> list[dict[str, Any]]:
    with transaction(url) as session:
        return bulk_jobs.items_page(session, job_id, 0, 100)


def test_an_author_deleted_after_being_cached_fails_the_reply_alone(pg_url: str) -> None:
    """A first delivery takes the authors' uids from the worker's cache; the foreign
    key refuses a deleted one, and the chunk's second run (full lookups, cache
    bypassed and cleared) fails that reply alone."""
    admin = new_user(pg_url, admin=True)
    prefix = unique("d")
    items = _items(prefix)
    apply_chunk(pg_url, _job(pg_url, admin, items), list(enumerate(items)), optimistic=True)
    later = _later_replies(prefix)  # by u1: reads u1's uid from the database, caches it
    apply_chunk(pg_url, _job(pg_url, admin, later), list(enumerate(later)), optimistic=True)
    with transaction(pg_url) as session:
        u1, u2 = (session.scalar(select(User.uid).where(User.external_id == f"{prefix}{u}"))
                  for u in ("u1", "u2"))  # fmt: skip
    assert _cached_uids[str(engine_for(pg_url).url)][f"{prefix}u1"] == u1
    with transaction(pg_url) as session:
        delete_user(session, None, u1)  # (its topic t1 goes with it)
    u2_posts = _user_state(pg_url, u2)[1]
    replies = [
        parse_item({"type": "reply", "external_id": f"{prefix}r6", "topic": f"{prefix}t2",
                    "user": f"{prefix}u1", "content": CONTENT, "timestamp": T0 + 40}),
        parse_item({"type": "reply", "external_id": f"{prefix}r7", "topic": f"{prefix}t2",
                    "user": f"{prefix}u2", "content": CONTENT, "timestamp": T0 + 50}),
    ]  # fmt: skip
    job_id = _job(pg_url, admin, replies)
    outcome = apply_chunk(pg_url, job_id, list(enumerate(replies)), optimistic=True)
    assert outcome.finished and not outcome.deferred
    results = _full_results(pg_url, job_id)
    assert [r["state"] for r in results] == ["failed", "created"]
    assert results[0]["error"]["key"] == "unknown-external-id"
    assert results[0]["error"]["args"] == ["user", f"{prefix}u1"]
    assert f"{prefix}u1" not in _cached_uids.get(str(engine_for(pg_url).url), {})
    with transaction(pg_url) as session:
        post = session.scalar(select(Post).where(Post.external_id == f"{prefix}r7"))
        assert post is not None and post.uid == u2
        assert session.scalar(select(Post).where(Post.external_id == f"{prefix}r6")) is None
    assert _user_state(pg_url, u2)[1] == u2_posts + 1


def test_a_user_item_is_existing_only_if_its_row_exists(pg_url: str) -> None:
    """A user item's own external id is always read from the database: a cached
    entry of a deleted user does not make it ``existing``."""
    admin = new_user(pg_url, admin=True)
    prefix = unique("e")
    items = _items(prefix)
    apply_chunk(pg_url, _job(pg_url, admin, items), list(enumerate(items)), optimistic=True)
    later = _later_replies(prefix)
    apply_chunk(pg_url, _job(pg_url, admin, later), list(enumerate(later)), optimistic=True)
    with transaction(pg_url) as session:
        u1 = session.scalar(select(User.uid).where(User.external_id == f"{prefix}u1"))
        delete_user(session, None, u1)
    again = [items[0]]
    job_id = _job(pg_url, admin, again)
    apply_chunk(pg_url, job_id, list(enumerate(again)), optimistic=True)
    [result] = _full_results(pg_url, job_id)
    assert result["state"] == "created" and result["id"] != u1


# A chunk as the API packed it before items were dumped in one call: jobs stored then
# must still unpack (same format: base64 of zlib-compressed JSON [index, item] pairs).
OLD_PACKED = (
    "eAFNjksOwjAMRK9SeZ0uWCBoLsEBogiF1iqhwQn5IKqqd8cpSLCbeR57rNRBLJDngCAhYnAzCMBXxkjGne1Q6Y5R9s"
    "H2bHI1JWFkXaruPWWkzPbkhqa/Fpq2+DnU5f2qhTr+Giw9jeMBd8To+cgCk6XacjFDG/FRMGWeTjgz+6bbW/LE8I4p"
    "mbE+qtS2Lv8DonGWsOm05qiJYwKp4INAi02B7NZV6zeFSU8i"
)


def test_unpack_reads_chunks_packed_before() -> None:
    invalid = {"kind": "bad-request", "key": "invalid-json", "args": ["line 9"], "line": 9,
               "message": "[[error:invalid-json, line 9]]"}  # fmt: skip
    assert bulk_jobs.unpack(OLD_PACKED) == [
        (7, {"type": "reply", "external_id": "r1", "topic": "t1", "user": "u1",
             "content": "Old chunk", "to_pid": 5}),
        (8, {"type": "invalid", "error": invalid}),
    ]  # fmt: skip


def test_pack_round_trips_stored_items() -> None:
    aliased = parse_item({"type": "reply", "external_id": 1, "tid": 2, "uid": 3,
                          "content": CONTENT, "toPid": 4})  # fmt: skip
    items = [*_items("p"), aliased]
    pairs = list(enumerate(items, 10_000))
    unpacked = bulk_jobs.unpack(bulk_jobs.pack(iter(pairs)))
    assert unpacked == [(i, orjson.loads(orjson.dumps(item))) for i, item in pairs]
    assert unpacked[3][1]["tags"] == ["imported", "x"] and unpacked[-1][1]["to_pid"] == 4


@pytest.mark.parametrize(
    "title",
    ["Imported topic number 7", "Two  spaces", "x", "ABC def 123", "Ünïcode title",
     "dots. and, commas", "under_score", "-dash-", "tab\there", "..", "!!!"],
)  # fmt: skip
def test_topic_slug_is_slugify(title: str) -> None:
    assert _title_slug(title.strip()) == (slugify(title.strip()) or "topic")


def test_lookup_of_ids_out_of_range_finds_nothing(db_url: str) -> None:
    uid = new_user(db_url)
    with transaction(db_url) as session:
        assert lookup(session, User.uid, User.uid, [uid, 2**63, None]) == {uid: uid}
        assert lookup(session, User.uid, User.external_id, [2**64]) == {}


def test_lookup_of_external_ids_with_quotes_and_backslashes(db_url: str) -> None:
    prefix = unique("q")
    odd = f'{prefix}"{{a,b}}\\ \u00e9 NULL'
    items = [parse_item({"type": "user", "external_id": odd, "username": f"{prefix}q"})]
    (created,) = _apply(db_url, items)
    with transaction(db_url) as session:
        assert lookup(session, User.external_id, User.uid, [odd, "NULL"]) == {odd: created.id}


def test_concurrent_chunks_sharing_users_and_categories_count_exactly(pg_url: str) -> None:
    """Chunks applied side by side, their posters in opposite orders: the counter
    updates queue on the shared rows (no deadlock) and add up exactly."""
    admin = new_user(pg_url, admin=True)
    prefix = unique("cc")
    base = [parse_item({"type": "user", "external_id": f"{prefix}u{u}", "username": f"{prefix}{u}"})
            for u in range(6)]  # fmt: skip
    base += [parse_item({"type": "category", "external_id": f"{prefix}c{c}", "name": "C"})
             for c in range(2)]  # fmt: skip
    apply_chunk(pg_url, _job(pg_url, admin, base), list(enumerate(base)))

    def chunk(n: int) -> list[dict[str, Any]]:
        users = list(range(6)) if n % 2 else list(reversed(range(6)))
        items = []
        for t, u in enumerate(users):
            ext = f"{prefix}t{n}-{t}"
            items.append(parse_item({
                "type": "topic", "external_id": ext, "category": f"{prefix}c{t % 2}",
                "user": f"{prefix}u{u}", "title": "T", "content": CONTENT, "timestamp": T0 + t,
            }))  # fmt: skip
            items.append(parse_item({
                "type": "reply", "external_id": f"{ext}r", "topic": ext,
                "user": f"{prefix}u{users[-1 - t]}", "content": CONTENT, "timestamp": T0 + n,
            }))  # fmt: skip
        return items

    chunks = [chunk(n) for n in range(12)]
    jobs_ids = [_job(pg_url, admin, items) for items in chunks]
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda j, items: apply_chunk(pg_url, j, list(enumerate(items)),
                                                           optimistic=True),
                             jobs_ids, chunks))  # fmt: skip
    assert all(outcome.finished for outcome in done)
    with transaction(pg_url) as session:
        for user in session.scalars(select(User).where(User.external_id.like(f"{prefix}u%"))):
            posts = session.scalar(select(func.count()).where(Post.uid == user.uid))
            topics = session.scalar(select(func.count()).where(Topic.uid == user.uid))
            assert (user.postcount, user.topiccount) == (posts, topics) == (24, 12)
            assert user.lastposttime == T0 + 11
        for category in session.scalars(
            select(Category).where(Category.external_id.like(f"{prefix}c%"))
        ):
            assert (category.topic_count, category.post_count) == (36, 72)


def test_a_connection_lost_on_the_driver_path_is_sqlalchemys_operational_error(
    pg_url: str,
) -> None:
    """Lookups and COPY go to the psycopg connection under the session: a dropped
    connection must still raise what the bulk worker retries, not a psycopg error."""
    session = session_factory(pg_url)()
    try:
        backend = session.scalar(text("SELECT pg_backend_pid()"))
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [backend])
        with pytest.raises(OperationalError):
            lookup(session, User.external_id, User.uid, ["anyone"])
    finally:
        session.invalidate()  # the connection is gone: no rollback to send


def test_a_taken_external_id_in_copy_is_sqlalchemys_integrity_error(pg_url: str) -> None:
    uid = new_user(pg_url)
    with transaction(pg_url) as session:
        session.execute(text("UPDATE users SET external_id = :e WHERE uid = :u"),
                        {"e": f"x{uid}", "u": uid})  # fmt: skip
    row = (uid + 10**9, f"copy{uid}", f"copy{uid}", 0, 0, f"x{uid}")
    columns = ["uid", "username", "userslug", "joindate", "lastonline", "external_id"]
    with pytest.raises(IntegrityError), transaction(pg_url) as session:
        copy_rows(session, User.__table__, columns, [row])


# -- foreign keys: per-row triggers off on COPY, parents checked once per chunk ---------

# A trigger of the operator's own on posts: it refuses the rows it sees, so an import
# that passes it ran without per-row triggers.
REFUSING_TRIGGER = """
CREATE FUNCTION refuse_{tag}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.external_id LIKE '{tag}%' THEN RAISE EXCEPTION 'trigger ran on %', NEW.external_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_{tag} BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION refuse_{tag}();
"""


def _run_sql(url: str, statements: str) -> None:
    with psycopg.connect(pg_dsn(url)) as conn:
        conn.execute(statements)


@pytest.fixture
def refusing_trigger(pg_url: str) -> Iterator[str]:
    tag = f"trig{uuid.uuid4().hex[:8]}"
    _run_sql(pg_url, REFUSING_TRIGGER.format(tag=tag))
    yield tag
    _run_sql(pg_url, f"DROP TRIGGER refuse_{tag} ON posts; DROP FUNCTION refuse_{tag}()")


def _reply_items(prefix: str, topic: str, user: str) -> list[dict[str, Any]]:
    return [parse_item({"type": "reply", "external_id": f"{prefix}r{n}", "topic": topic,
                        "user": user, "content": CONTENT, "timestamp": T0 + n})
            for n in range(3)]  # fmt: skip


def test_bulk_copy_runs_without_row_triggers(pg_url: str, refusing_trigger: str) -> None:
    items = _items(refusing_trigger)
    results = _apply(pg_url, items)
    assert all(r.state == "created" for r in results)
    with transaction(pg_url) as session:
        imported = session.scalar(select(func.count()).select_from(Post).where(
            Post.external_id.like(f"{refusing_trigger}%")))  # fmt: skip
    assert imported == 3


def test_bulk_copy_fires_row_triggers_when_told_to(pg_url: str, refusing_trigger: str) -> None:
    with pytest.raises(Exception, match="trigger ran on"):
        _apply(pg_url, _items(refusing_trigger), rules=Rules(bulk_skip_row_triggers=False))


@pytest.fixture
def plain_role_url(pg_url: str) -> Iterator[str]:
    """``pg_url`` as a role that owns nothing and is no superuser (so it may not set
    session_replication_role), with the rights on the tables a deployment grants."""
    role = f"forumq_plain_{uuid.uuid4().hex[:8]}"
    _run_sql(pg_url, f"CREATE ROLE {role} LOGIN; "
                     f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}; "
                     f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")  # fmt: skip
    url = pg_url.replace("postgres@", f"{role}@", 1)
    assert url != pg_url
    yield url
    engine_for(url).dispose()
    _run_sql(pg_url, f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_a_role_that_may_not_skip_triggers_imports_with_them(
    plain_role_url: str, refusing_trigger: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Exception, match="trigger ran on"):
        _apply(plain_role_url, _items(refusing_trigger))
    assert "may not set session_replication_role" in caplog.text
    prefix = unique()
    assert all(r.state == "created" for r in _apply(plain_role_url, _items(prefix)))
    with transaction(plain_role_url) as session:
        users = session.scalars(select(User).where(User.external_id.like(f"{prefix}u%")))
        assert sorted(u.postcount for u in users) == [2, 3]


def _delete_now(url: str, statements: list[str], key: int) -> None:
    """Delete from another connection and commit, refusing to wait for a row lock: a
    per-row foreign-key check would hold one on the parent."""
    with psycopg.connect(pg_dsn(url)) as conn:
        conn.execute("SET lock_timeout = '5s'")
        deleted = [conn.execute(statement, (key,)).rowcount for statement in statements]
    assert deleted[-1] == 1


@pytest.mark.parametrize("parent", ["user", "topic", "category"])
def test_a_parent_deleted_before_the_chunk_locks_it_fails_the_chunk(
    pg_url: str, parent: str
) -> None:
    """Deleted after the chunk looked it up, before its rows pointing at it are written
    and its counters lock it: the chunk is refused whole (IntegrityError, so the worker
    runs it again with fresh lookups), as the foreign key would have refused it."""
    prefix = unique()
    _apply(pg_url, _items(prefix)[:3])  # two users and a category, existing from now on
    with transaction(pg_url) as session:
        ids = {e: i for e, i in session.execute(
            select(User.external_id, User.uid).where(User.external_id.like(f"{prefix}%"))
            .union_all(select(Category.external_id, Category.cid)
                       .where(Category.external_id.like(f"{prefix}%"))))}  # fmt: skip
    topic = parse_item({"type": "topic", "external_id": f"{prefix}t0", "category": f"{prefix}c1",
                        "user": f"{prefix}u2", "title": "Here", "content": CONTENT})  # fmt: skip
    _apply(pg_url, [topic], start=3)
    with transaction(pg_url) as session:
        tid = session.scalar(select(Topic.tid).where(Topic.external_id == f"{prefix}t0"))
    items = _reply_items(prefix, f"{prefix}t0", f"{prefix}u1")
    if parent == "category":  # a new topic in the existing category
        items = [{**topic, "external_id": f"{prefix}t9", "user": f"{prefix}u1"}]
    deletes = {
        "user": (["DELETE FROM users WHERE uid = %s"], ids[f"{prefix}u1"]),
        "topic": (["DELETE FROM topics WHERE tid = %s"], tid),
        # (the category's one committed topic goes first)
        "category": (["DELETE FROM topics WHERE cid = %s", "DELETE FROM categories WHERE cid = %s"],
                     ids[f"{prefix}c1"]),
    }  # fmt: skip

    def delete_parent(outcome: bulk.ChunkResult) -> None:
        assert all(r.state == "created" for r in outcome.results)
        _delete_now(pg_url, *deletes[parent])

    with pytest.raises(IntegrityError, match="rows are gone"), transaction(pg_url) as session:
        apply_items(session, None, list(enumerate(items, 10)), before_write=delete_parent)
    with transaction(pg_url) as session:
        left = session.scalar(select(func.count()).select_from(Post).where(
            Post.external_id.like(f"{prefix}r%")))  # fmt: skip
        assert left == 0
        assert session.scalar(select(Topic.tid).where(Topic.external_id == f"{prefix}t9")) is None

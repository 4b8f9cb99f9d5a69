"""A job's deliveries are counted when it is claimed, before it is applied: a job that
kills its worker fails after ``max_attempts``, alone; a claim leaves a job queued while
an earlier job on its object is unfinished outside the claim."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import InvalidRequestError

from forum.categories import create_category
from forum.db import transaction
from forum.jobqueue import store as jobs
from forum.migrate import upgrade
from forum.models import Job, Post
from forum.topics import create_topic
from forum.users import create_user
from forumq.settings import get_settings
from schemas import dump_command, load_command
from workers import apply, commands
from workers.celery_app import publisher

CONTENT = "Content that is long enough"


@pytest.fixture(scope="module")
def forum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, int]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('delivery')) / 'forum.db'}"
    upgrade(url)
    with transaction(url) as session:
        admin = create_user(session, None, f"a{uuid.uuid4().hex[:8]}", admin=True).uid
        cid = create_category(session, None, "Deliveries").cid
        tid = int(create_topic(session, admin, cid, "Deliveries", CONTENT)["topicData"]["tid"])
    yield url, admin, tid


def _job(url: str, admin: int, tid: int, content: str = CONTENT, **overrides: Any) -> str:
    command = load_command({"kind": "topics.reply", "tid": tid, "content": content})
    now = int(time.time() * 1000)
    row = {
        "id": uuid.uuid4().hex, "kind": command.kind, "router": "v3", "actor_uid": admin,
        "command": dump_command(command), "state": jobs.QUEUED, "idempotency_key": None,
        "request_hash": None, "created_at": now, "enqueued_at": now,
        "ordering_key": command.ordering_key(), "attempts": 0,
    }  # fmt: skip
    with transaction(url) as session:
        jobs.insert_jobs(session, [row])
        if overrides:
            session.execute(update(Job).where(Job.id == row["id"]).values(**overrides))
    return str(row["id"])


def _stored(url: str, job_id: str) -> Job:
    with transaction(url) as session:
        job = jobs.get(session, job_id)
        assert job is not None
        return job


def _posts(url: str, tid: int) -> int:
    with transaction(url) as session:
        return int(session.scalar(select(func.count()).where(Post.tid == tid)) or 0)


def test_a_job_is_counted_and_applied_once(forum: tuple[str, int, int]) -> None:
    url, admin, tid = forum
    job_id, posts = _job(url, admin, tid), _posts(url, tid)
    outcome = apply.apply_batch(url, [job_id])
    job = _stored(url, job_id)
    assert (job.state, job.attempts) == (jobs.SUCCEEDED, 1)
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at
    assert outcome.answers[job_id]["state"] == jobs.SUCCEEDED
    assert outcome.answers[job_id]["result"]["pid"] == job.result["pid"]
    assert _posts(url, tid) == posts + 1
    # A second delivery of the same message applies nothing.
    assert apply.apply_batch(url, [job_id]).finished == []
    assert _posts(url, tid) == posts + 1 and _stored(url, job_id).attempts == 1


def test_a_lone_job_that_fails_is_recorded_without_its_writes(
    forum: tuple[str, int, int],
) -> None:
    url, admin, _ = forum
    job_id = _job(url, admin, 99_999_999)
    outcome = apply.apply_batch(url, [job_id])
    job = _stored(url, job_id)
    assert (job.state, job.attempts, job.error["key"]) == (jobs.FAILED, 1, "no-topic")
    assert outcome.answers[job_id]["error"]["key"] == "no-topic"


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "in-a-batch"])
def test_a_job_whose_write_the_database_refuses_fails_alone_with_conflict(
    forum: tuple[str, int, int], alone: bool
) -> None:
    """An insert refused at flush (here by a trigger standing in for a unique key that a
    concurrent write took) fails its job with ``conflict``: the session it ran in was
    rolled back, and recording the failure must not read the expired job."""
    url, admin, tid = forum
    refused = f"Refused content {uuid.uuid4().hex}"
    with transaction(url) as session:
        session.execute(text(
            f"CREATE TRIGGER refuse_{uuid.uuid4().hex} BEFORE INSERT ON posts "
            f"WHEN NEW.content = '{refused}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ))  # fmt: skip
    posts = _posts(url, tid)
    job_id = _job(url, admin, tid, content=refused)
    batch = [job_id] if alone else [job_id, _job(url, admin, tid)]
    outcome = apply.apply_batch(url, batch)
    job = _stored(url, job_id)
    assert (job.state, job.error["key"]) == (jobs.FAILED, "conflict")
    assert outcome.answers[job_id]["error"]["key"] == "conflict"
    assert _posts(url, tid) == posts + len(batch) - 1  # the other job of the batch applied


def test_a_claim_waits_for_an_earlier_job_on_the_same_object(
    forum: tuple[str, int, int],
) -> None:
    url, admin, tid = forum
    # Claimed by a worker that died: running, counted, held by no one.
    orphan = _job(url, admin, tid, content=f"{CONTENT} first", state=jobs.RUNNING, attempts=1)
    later = _job(url, admin, tid, content=f"{CONTENT} second")
    assert apply.apply_batch(url, []).claimed == []  # the later job waits its turn
    assert _stored(url, later).state == jobs.QUEUED
    # The orphan recovered (the sweeper publishes its id) is claimed alone (it may be
    # what killed its worker); then the later job.
    assert apply.apply_batch(url, [orphan]).claimed == [orphan]
    assert apply.apply_batch(url, []).claimed == [later]
    first, second = _stored(url, orphan), _stored(url, later)
    assert (first.state, first.attempts, second.state, second.attempts) == (
        jobs.SUCCEEDED, 2, jobs.SUCCEEDED, 1,
    )  # fmt: skip
    assert first.result["pid"] < second.result["pid"]


def test_one_message_recovers_every_job_a_dead_worker_held(
    forum: tuple[str, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper publishes a dead worker's jobs in one message: each is claimed alone,
    and the task claims the next at once rather than leaving it to the next sweep."""
    url, admin, tid = forum
    monkeypatch.setattr(get_settings(), "database_url", url)
    published: list[list[str]] = []
    monkeypatch.setattr(publisher, "jobs", lambda ids, queue=None: published.append(ids))
    orphans = [_job(url, admin, tid, content=f"{CONTENT} orphan {n}", state=jobs.RUNNING,
                    attempts=1) for n in range(4)]  # fmt: skip
    assert apply.apply_jobs.apply(args=[orphans]).get() == 4
    assert [(_stored(url, j).state, _stored(url, j).attempts) for j in orphans] == [
        (jobs.SUCCEEDED, 2)] * 4  # fmt: skip
    assert published == []


def _dies_on(monkeypatch: pytest.MonkeyPatch, poison: str) -> None:
    """Applying a write whose content is ``poison`` kills the worker (nothing commits),
    on the set-based and the one-by-one path alike."""
    run, apply_writes = commands.run, apply.apply_writes

    def run_or_die(session: Any, actor: int, command: Any, rules: Any) -> Any:
        if getattr(command, "content", None) == poison:
            raise SystemExit("the worker died")  # like SIGKILL: nothing after it commits
        return run(session, actor, command, rules)

    def writes_or_die(session: Any, writes: Any, rules: Any) -> Any:
        if any(write.content == poison for write in writes):
            raise SystemExit("the worker died")
        return apply_writes(session, writes, rules)

    monkeypatch.setattr(commands, "run", run_or_die)
    monkeypatch.setattr(apply, "apply_writes", writes_or_die)


def test_a_job_that_kills_its_worker_fails_after_max_attempts(
    forum: tuple[str, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, admin, tid = forum
    poison = f"{CONTENT} poison {uuid.uuid4().hex}"
    posts = _posts(url, tid)
    good = [_job(url, admin, tid), _job(url, admin, tid)]
    job_id = _job(url, admin, tid, content=poison)
    good.append(_job(url, admin, tid))
    _dies_on(monkeypatch, poison)
    max_attempts, deaths = 3, 0
    # A worker's deliveries; the sweeper publishes what a dead one left running.
    while any(_stored(url, j).state in jobs.UNFINISHED for j in [*good, job_id]):
        assert deaths <= 10
        try:
            apply.apply_batch(url, [*good, job_id], max_attempts=max_attempts)
        except SystemExit:
            deaths += 1
            assert _stored(url, job_id).attempts == deaths  # counted before it died
    job = _stored(url, job_id)
    assert deaths == max_attempts
    assert job.error is not None and job.error["key"] == "too-many-attempts"
    # Its batch-mates, claimed one at a time once they had died with it, did not fail.
    assert [_stored(url, g).state for g in good] == [jobs.SUCCEEDED] * 3
    assert [_stored(url, g).attempts for g in good] == [2, 2, 2]
    assert _posts(url, tid) == posts + 3


def test_a_job_read_to_be_shown_leaves_its_command_out(forum: tuple[str, int, int]) -> None:
    url, admin, tid = forum
    job_id = _job(url, admin, tid)
    with transaction(url) as session:
        shown = jobs.get(session, job_id, command=False)
        assert shown is not None and shown.state == jobs.QUEUED
        with pytest.raises(InvalidRequestError):
            _ = shown.command  # left out on purpose: never loaded behind the caller's back
    assert _stored(url, job_id).command["kind"] == "topics.reply"

"""The one task: apply stored jobs in batches, effectively once, in order per object.

A message is a wake-up: the worker claims the oldest queued jobs (``forum.jobqueue.claims``),
as many as one transaction applies, and applies them in ``seq`` order: runs of topic
creates and replies (``forum.bulk.writes``) and runs of edits, votes, bookmarks,
follows and tag changes (``forum.bulk.actions``) set-based, rare commands one by one
in savepoints; a run the set-based path refuses falls back to one savepoint per job,
so one bad command fails alone. Every job's final state commits in the
same transaction as its write, so a redelivered message finds its jobs finished and
does nothing. A task claims again while its claims find jobs; a full claim wakes
another worker, which claims other objects' jobs meanwhile.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from forum import settings_store, votes
from forum.bulk.actions import Action, Edit, Follow, Mark, Retag, Vote, apply_actions
from forum.bulk.writes import NewReply, NewTopic, Unsure, Write, apply_writes
from forum.db import engine_for, transaction
from forum.errors import ErrorClass, ForumError, error_record
from forum.jobqueue import claims, store
from forum.jobqueue.chunks import KIND as BULK
from forum.jobqueue.claims import Claimed
from forum.jobqueue.tasks import APPLY_JOBS
from forum.models import Job
from forum.rules import NODEBB, Rules
from forumq.logs import REQUEST_ID
from forumq.settings import get_settings
from schemas import load_command
from schemas import posts as p
from schemas import topics as t
from schemas.commands import Command
from schemas.topics import CreateTopic, ReplyTopic
from schemas.util import UpdateSetting
from workers import commands, observe
from workers.celery_app import celery_app, notifier, publisher, wakeups
from workers.delivery import MAX_RETRIES, TRANSIENT, backoff, failure

log = logging.getLogger(__name__)
# Jobs one claim takes at most: one transaction's worth, short enough that a worker
# stopping (SIGTERM) finishes its batch soon.
CLAIM_MAX_JOBS = 100
# A task claims again while its claims find jobs, for up to this long: no message and
# no prefetch between batches under a backlog, and a stopping worker still stops soon.
LOOP_SECONDS = 1.0
# After a claim that found nothing, a task holding the wake-up mark waits this long for a
# request's kick (``wakeups``): a write that follows closely needs no message.
LINGER_SECONDS = 0.05
# Commands applied set-based (``as_item``); the rest are rare and apply one by one.
SET_BASED = {
    command.model_fields["kind"].default
    for command in (CreateTopic, ReplyTopic, p.EditPost, t.EditTopicPost, p.VotePost,
                    p.UnvotePost, p.BookmarkPost, p.UnbookmarkPost, t.FollowTopic,
                    t.UnfollowTopic, t.ReplaceTopicTags, t.AddTopicTags, t.ClearTopicTags)
}  # fmt: skip
SETTING = UpdateSetting.model_fields["kind"].default
# No test round trip per transaction: a batch that meets a dropped connection fails
# with OperationalError and is retried like any transient error, on fresh connections.
PRE_PING = False


class Failed(Exception):
    """A job applied alone failed: its transaction rolls back, and the failure is
    recorded in a new one."""

    def __init__(self, job_id: str, error: dict[str, Any]) -> None:
        super().__init__(job_id)
        self.job_id, self.error = job_id, error


def apply_job(session: Session, job: Job, rules: Rules, *, alone: bool = False) -> None:
    """Run one job's command and record its outcome on the job.

    In a batch the command runs in a savepoint, so a failure undoes its writes only.
    A job ``alone`` in its transaction runs without one (two round trips less): if it
    fails, ``Failed`` rolls the whole transaction back for the caller to record."""
    job_id = job.id  # a refused flush rolls the session back, which expires ``job``
    # The lines the command logs carry the request that stored the job.
    request = REQUEST_ID.set(job.request_id)
    try:
        command = load_command(job.command)
        if alone:
            result = commands.run(session, job.actor_uid, command, rules)
        else:
            with session.begin_nested():
                result = commands.run(session, job.actor_uid, command, rules)
    except TRANSIENT:
        raise  # the database itself failed: retry the whole batch
    except Exception as exc:
        error = failure(f"job {job_id}", exc)
        if alone:
            raise Failed(job_id, error) from exc
        store.finish(job, error=error)
    else:
        store.finish(job, result=result)
    finally:
        REQUEST_ID.reset(request)


@dataclass
class Outcome:
    claimed: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    # Final answers of the finished jobs, for the completion notice.
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    # The same jobs, for the logs and metrics (workers.observe).
    records: list[observe.Finished] = field(default_factory=list)

    def finish(self, job: Job) -> None:
        self.finished.append(job.id)
        self.answers[job.id] = {"state": job.state, "result": job.result, "error": job.error}
        self.records.append(observe.Finished.of(job))


class Interrupted(Exception):
    """The database failed after a claim: its jobs are retried as the same delivery."""

    def __init__(self, claimed: list[str], error: Exception) -> None:
        super().__init__(str(error))
        self.claimed, self.error = claimed, error


def claim(database_url: str, job_ids: Sequence[str], counted: Sequence[str] = ()) -> list[Claimed]:
    """Claim a batch (``forum.jobqueue.claims``) in a transaction of its own; on PostgreSQL
    without waiting for its fsync: a claim lost in a server crash is a job still
    queued, or counted one delivery short."""
    # A connection, not a session: nothing here is an ORM object, and a claim that
    # finds nothing (a looping worker's last) costs half as much CPU.
    with engine_for(database_url, pre_ping=PRE_PING).begin() as session:
        return claims.claim(session, job_ids, CLAIM_MAX_JOBS, other_than=[BULK], counted=counted)


def apply_batch(
    database_url: str,
    job_ids: Sequence[str],
    counted: Sequence[str] = (),
    *,
    rules: Rules = NODEBB,
    max_attempts: int = store.MAX_ATTEMPTS,
) -> Outcome:
    """Claim the oldest queued jobs and the unfinished ones among ``job_ids`` and
    ``counted`` (see ``claim``), and apply them in ``seq`` order in one transaction."""
    claimed = claim(database_url, job_ids, counted)
    outcome = Outcome(claimed=[c.id for c in claimed])
    if not claimed:
        return outcome
    try:
        _apply_claimed(database_url, outcome.claimed, outcome, rules, max_attempts)
    except TRANSIENT as exc:
        raise Interrupted(outcome.claimed, exc) from exc
    return outcome


def _apply_claimed(
    database_url: str, job_ids: list[str], outcome: Outcome, rules: Rules, max_attempts: int
) -> None:
    try:
        with transaction(database_url, pre_ping=PRE_PING) as session:
            batch = store.lock_unfinished(session, job_ids)
            runnable = []
            for job in batch:
                if job.attempts > max_attempts:
                    reason = "[[error:too-many-attempts]]"  # it kept killing its worker
                    store.finish(
                        job, error=error_record(ErrorClass.INTERNAL, "too-many-attempts", reason)
                    )
                else:
                    runnable.append(job)
            apply_in_order(session, runnable, rules, alone=len(batch) == 1)
            for job in batch:
                outcome.finish(job)
    except Failed as failed:
        # A lone job's command failed and its transaction rolled back: record why.
        with transaction(database_url, pre_ping=PRE_PING) as session:
            for job in store.lock_unfinished(session, [failed.job_id]):
                store.finish(job, error=failed.error)
                outcome.finish(job)


def apply_in_order(
    session: Session, batch: list[Job], rules: Rules, *, alone: bool = False
) -> None:
    """Apply ``batch`` (locked, in ``seq`` order) and record each job's outcome: runs of
    topic creates and replies (``forum.bulk.writes``) and runs of edits, votes,
    bookmarks, follows and tag changes (``forum.bulk.actions``) set-based, the rest one
    by one. A run ends where a job of another kind comes, so every job still sees
    what the jobs before it did."""
    rules = settings_store.rules_in_force(session, rules)
    run: list[tuple[Job, Item]] = []
    for job in batch:
        item = set_based(job)
        if run and (item is None or _engine(item) is not _engine(run[0][1])):
            apply_set_based(session, run, rules)
            run = []
        if item is None:
            apply_job(session, job, rules, alone=alone)
            if job.kind == SETTING:  # the jobs after it obey the new setting
                rules = settings_store.rules_in_force(session, rules)
        else:
            run.append((job, item))
    apply_set_based(session, run, rules)


Item = Write | Action
# A set-based apply: ``(session, items, rules)`` -> per item its answer or ForumError.
Engine = Callable[[Session, Sequence[Any], Rules], list[Any]]


def _engine(item: Item) -> Engine:
    return apply_writes if isinstance(item, NewTopic | NewReply) else apply_actions


def set_based(job: Job) -> Item | None:
    """The job's command as an item ``forum.bulk.writes`` or ``forum.bulk.actions``
    applies, if it is one."""
    kind = job.command.get("kind")
    if kind not in SET_BASED:
        return None
    try:
        command = load_command(job.command)
    except ValidationError:
        return None  # apply_job records why
    return as_item(job.actor_uid, command)


def as_item(actor: int, command: Command) -> Item | None:
    """``command`` as its set-based item (see ``SET_BASED``)."""
    match command:
        case CreateTopic() if not command.thumbs:  # thumbnails: forum.topics' create
            return NewTopic(actor, command.cid, command.title, command.content,
                            tuple(command.tags), command.timestamp)  # fmt: skip
        case ReplyTopic():
            return NewReply(actor, command.tid, command.content, command.to_pid,
                            command.timestamp)  # fmt: skip
        case p.EditPost():
            return Edit(actor, command.pid, command.content, command.title, command.tags)
        case t.EditTopicPost():
            return Edit(actor, command.pid, command.content, command.title, command.tags,
                        command.tid)  # fmt: skip
        case p.VotePost():
            return Vote(actor, command.pid, votes.direction(command.delta))
        case p.UnvotePost():
            return Vote(actor, command.pid, votes.NONE)
        case p.BookmarkPost() | p.UnbookmarkPost():
            return Mark(actor, command.pid, isinstance(command, p.BookmarkPost))
        case t.FollowTopic() | t.UnfollowTopic():
            return Follow(actor, command.tid, isinstance(command, t.FollowTopic))
        case t.ReplaceTopicTags() | t.AddTopicTags():
            return Retag(actor, command.tid, command.tags, isinstance(command, t.AddTopicTags))
        case t.ClearTopicTags():
            return Retag(actor, command.tid, ())
    return None


def apply_set_based(session: Session, run: list[tuple[Job, Item]], rules: Rules) -> None:
    """Apply a run of items of one engine set-based (a lone write too: with its
    savepoint it costs less than the per-job path); if that path cannot decide it
    (``Unsure``) or fails, one by one in savepoints, so a bad job fails alone."""
    if not run:
        return
    engine = _engine(run[0][1])
    try:
        with session.begin_nested():
            outcomes = engine(session, [item for _, item in run], rules)
    except TRANSIENT:
        raise
    except (Unsure, DBAPIError) as exc:
        log.info("a batch of %d writes is applied one by one: %r", len(run), exc)
    except Exception:
        # A fault of the set-based path itself: the one-by-one path still applies
        # every job (and records any job's own fault on that job alone).
        log.warning("a batch of %d writes is applied one by one", len(run), exc_info=True)
    else:
        store.finish_all(session, [
            (job, None, result.record()) if isinstance(result, ForumError)
            else (job, result, None)
            for (job, _), result in zip(run, outcomes, strict=True)
        ])  # fmt: skip
        return
    for job, _ in run:
        apply_job(session, job, rules)


def fail_batch(database_url: str, job_ids: Sequence[str], reason: str) -> list[str]:
    """Give up on jobs after the retry limit: they end ``failed``, never stuck."""
    with transaction(database_url, pre_ping=PRE_PING) as session:
        pending = store.lock_unfinished(session, job_ids)
        for job in pending:
            store.finish(
                job, error=error_record(ErrorClass.UNAVAILABLE, "service-unavailable", reason)
            )
        return [job.id for job in pending]


@celery_app.task(name=APPLY_JOBS, bind=True, max_retries=MAX_RETRIES)
def apply_jobs(self: Task, job_ids: list[str], counted: list[str] | None = None) -> int:
    """A message is a wake-up: claim a batch, apply it, announce it, and claim again
    while the claims find jobs, for up to ``LOOP_SECONDS``. ``counted``: jobs a failed
    try claimed (retried without counting another delivery).

    While it loops, the task leaves the queue's wake-up mark (``wakeups``) in place, so
    requests stored meanwhile publish nothing but a kick: its next claim takes them.
    When a claim finds nothing, it waits for a kick for ``LINGER_SECONDS``; without
    one, the mark is taken away and the task claims once more, which takes whatever was
    stored before the mark went away; later requests wake a worker."""
    settings = get_settings()
    queue = (self.request.delivery_info or {}).get("routing_key") or settings.interactive_queue
    try:
        return _claim_while_found(self, queue, job_ids, counted or [])
    except BaseException:
        wakeups.taken(queue)  # whatever failed: later requests wake a worker
        raise


def _claim_while_found(self: Task, queue: str, job_ids: list[str], counted: list[str]) -> int:
    settings = get_settings()
    database_url = settings.database_url
    began = time.monotonic()
    finished = 0
    # The mark that this message's publisher set (or that expired meanwhile).
    marked = wakeups.marked
    while True:
        started = time.monotonic()
        try:
            outcome = apply_batch(database_url, job_ids, counted, rules=settings.rules,
                                  max_attempts=settings.max_attempts)  # fmt: skip
        except (Interrupted, *TRANSIENT) as exc:
            wakeups.taken(queue)  # no claim until the retry: later requests wake a worker
            if isinstance(exc, Interrupted):
                counted = sorted({*counted, *exc.claimed})
            mine = sorted({*job_ids, *counted})
            if self.request.retries >= MAX_RETRIES:
                log.error("giving up on %d jobs: %s", len(mine), exc)
                outcome = Outcome(finished=fail_batch(database_url, mine, str(exc)))
                notifier.job_finished(outcome.finished, outcome.answers)
                return finished + len(outcome.finished)
            # Database down or deadlocked: back off 0.25 s, 0.5 s, ... up to 30 s.
            countdown = backoff(self.request.retries)
            raise self.retry(
                args=[job_ids], kwargs={"counted": counted}, exc=exc, countdown=countdown
            ) from exc
        # Announced first: a waiting request answers at once.
        notifier.job_finished(outcome.finished, outcome.answers)
        finished += len(outcome.finished)
        if outcome.claimed:
            observe.batch_finished(queue, outcome.records, time.monotonic() - started)
            if not marked and wakeups.marked:
                # Jobs keep coming: the mark again, so that they wake no other worker
                # only to find their object's jobs held by this one.
                marked = wakeups.mark(queue)
        elif marked:
            if not wakeups.kicked(queue, LINGER_SECONDS):
                wakeups.taken(queue)  # and once more: what was stored before it went away
                marked = False
        else:
            # Nothing claimable: whatever is queued waits behind a job another claim
            # holds, and that claim claims again once it has committed.
            return finished
        if len(outcome.claimed) >= CLAIM_MAX_JOBS:
            # A backlog: the pool's other processes claim other objects' jobs meanwhile.
            publisher.jobs([], queue=queue)
        # The message's other jobs next: jobs recovered from a dead worker are claimed
        # one at a time, and would otherwise wait for the sweeper's next round each.
        taken = set(outcome.claimed)
        job_ids = [job_id for job_id in job_ids if job_id not in taken]
        counted = [job_id for job_id in counted if job_id not in taken]
        if time.monotonic() - began >= LOOP_SECONDS:
            break
    # Time is up (a stopping worker stops soon): the next claim is another message's.
    wakeups.taken(queue)
    try:
        with engine_for(database_url, pre_ping=PRE_PING).begin() as connection:
            more = claims.any_queued(connection, other_than=[BULK])
            if job_ids:  # the message's jobs not claimed in time, unless another finished them
                done = set(store.finished_ids(connection, job_ids))
                job_ids = [job_id for job_id in job_ids if job_id not in done]
    except TRANSIENT:
        more = True
    if more or job_ids:
        publisher.jobs(job_ids, queue=queue)
    return finished

"""The one task: apply a batch of stored jobs, effectively once, in order per object.

Each job runs in its own savepoint, so one bad command fails alone; every job's
final state commits in the same transaction as its write, so a redelivered
message finds its jobs finished and does nothing. A job that shares an ordering
key (one topic, one post) with earlier unfinished jobs applies those first, or
waits for the worker that holds them: writes to one object land in acceptance order.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from forum.clock import now_ms
from forum.db import transaction
from forum.errors import ErrorClass, ForumError, error_record
from forum.jobqueue import store
from forum.jobqueue.tasks import APPLY_JOBS
from forum.models import Job
from forum.rules import NODEBB, Rules
from forumq.settings import get_settings
from schemas import load_command
from workers import commands, observe
from workers.celery_app import celery_app, notifier, publisher

log = logging.getLogger(__name__)
# Connection lost, deadlock, serialization failure: worth retrying the whole batch.
TRANSIENT = (OperationalError, InterfaceError)
MAX_RETRIES = 10
DEFER_SECONDS = 0.05
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
        error = failure(job_id, exc)
        if alone:
            raise Failed(job_id, error) from exc
        store.finish(job, error=error)
    else:
        store.finish(job, result=result)


def failure(job_id: str, exc: Exception) -> dict[str, Any]:
    """The error a job's command raised, as the job records it."""
    if isinstance(exc, ForumError):
        return exc.record()
    if isinstance(exc, ValidationError):
        return error_record(ErrorClass.BAD_REQUEST, "invalid-data", str(exc))
    if isinstance(exc, IntegrityError):
        # A unique key taken by a concurrent write: this job's data, not the batch's.
        log.info("job %s conflicted: %s", job_id, exc.orig)
        return error_record(ErrorClass.BAD_REQUEST, "conflict", "[[error:conflict]]")
    if isinstance(exc, DBAPIError):
        # The database refused this job's data (a value too long, ...): its writes are
        # rolled back and it fails alone; the rest of the batch goes on.
        log.warning("job %s refused by the database: %s", job_id, exc.orig)
        return error_record(ErrorClass.BAD_REQUEST, "invalid-data", "[[error:invalid-data]]")
    log.error("job %s raised", job_id, exc_info=exc)
    return error_record(ErrorClass.INTERNAL, "internal-server-error", "[[error:internal]]")


@dataclass
class Outcome:
    finished: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    # Final answers of the finished jobs, for the completion notice.
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    # The same jobs, for the logs and metrics (workers.observe).
    records: list[observe.Finished] = field(default_factory=list)

    def finish(self, job: Job) -> None:
        self.finished.append(job.id)
        self.answers[job.id] = {"state": job.state, "result": job.result, "error": job.error}
        self.records.append(observe.Finished.of(job))


class _MarkFirst(Exception):
    """The batch may have been delivered before: count this delivery durably first."""


def mark_running(database_url: str, job_ids: Sequence[str], *, redelivered: bool) -> None:
    with transaction(database_url, pre_ping=PRE_PING) as session:
        if session.get_bind().dialect.name == "postgresql":
            # Losing a "running" mark in a crash is harmless: skip the fsync.
            session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        store.mark_running(session, job_ids, uncounted_before=redelivered)


def apply_batch(
    database_url: str,
    job_ids: Sequence[str],
    *,
    redelivered: bool = False,
    rules: Rules = NODEBB,
    max_attempts: int = store.MAX_ATTEMPTS,
) -> Outcome:
    """Apply what is unfinished among ``job_ids``, with the earlier jobs on the same
    objects first; a job behind one another worker holds waits (is deferred).

    ``attempts`` counts deliveries so that a job that kills its worker fails after
    ``max_attempts``. A first delivery (the message not redelivered, its jobs queued,
    never counted, never re-published) counts itself in the apply transaction: one
    commit instead of two. If it dies, it leaves no trace, but its next delivery is
    either a redelivered message or a sweeper re-publish (``enqueued_at`` moved), and
    that one, like any delivery that may repeat, commits its count before applying (a
    redelivered message also counts the delivery that left no trace)."""
    limits = (rules, max_attempts)
    try:
        return _apply(database_url, job_ids, limits, durable_mark=redelivered,
                      redelivered=redelivered)  # fmt: skip
    except _MarkFirst:
        return _apply(database_url, job_ids, limits, durable_mark=True, redelivered=redelivered)


def _apply(
    database_url: str,
    job_ids: Sequence[str],
    limits: tuple[Rules, int],
    *,
    durable_mark: bool,
    redelivered: bool,
) -> Outcome:
    if durable_mark:
        mark_running(database_url, job_ids, redelivered=redelivered)
    outcome = Outcome()
    started = now_ms()
    try:
        with transaction(database_url, pre_ping=PRE_PING) as session:
            batch, waiting = store.lock_batch(session, job_ids)
            if not durable_mark and not all(store.first_delivery(job) for job in batch):
                raise _MarkFirst  # rolls back: nothing was written
            earlier, held = store.lock_predecessors(session, batch) if waiting else ([], {})
            _apply_locked(session, batch, earlier, held, outcome, limits, count=not durable_mark)
    except Failed as failed:
        # A lone job's command failed and its transaction rolled back: record why.
        with transaction(database_url, pre_ping=PRE_PING) as session:
            for job in store.lock_unfinished(session, [failed.job_id]):
                if not durable_mark:
                    store.count_delivery(job, started)
                store.finish(job, error=failed.error)
                outcome.finish(job)
    return outcome


def _apply_locked(
    session: Session,
    batch: list[Job],
    earlier: list[Job],
    held: dict[str, int],
    outcome: Outcome,
    limits: tuple[Rules, int],
    *,
    count: bool,
) -> None:
    """Apply the locked ``batch`` and ``earlier`` jobs in ``seq`` order; ``count``:
    this transaction counts the delivery of the batch's jobs it applies."""
    rules, max_attempts = limits
    alone = len(batch) == 1 and not earlier
    ours = {job.id for job in batch}
    for job in sorted([*batch, *earlier], key=lambda job: job.seq):
        key = job.ordering_key
        if key in held and job.seq > held[key]:
            if job.id in ours:
                # Back in line: waiting its turn is neither running nor a failed delivery.
                job.state, job.started_at = store.QUEUED, None
                if not count:
                    job.attempts -= 1  # undo the count mark_running committed
                outcome.deferred.append(job.id)
            continue
        if job.attempts > max_attempts:
            reason = "[[error:too-many-attempts]]"  # it kept killing its worker
            store.finish(job, error=error_record(ErrorClass.INTERNAL, "too-many-attempts", reason))
        else:
            started = now_ms()
            apply_job(session, job, rules, alone=alone)
            if count and job.id in ours:
                # Counted with the final state, in the one UPDATE the commit sends.
                store.count_delivery(job, started)
        outcome.finish(job)


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
def apply_jobs(self: Task, job_ids: list[str]) -> int:
    settings = get_settings()
    database_url = settings.database_url
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    queue = (self.request.delivery_info or {}).get("routing_key") or settings.interactive_queue
    started = time.monotonic()
    try:
        outcome = apply_batch(database_url, job_ids, redelivered=redelivered,
                              rules=settings.rules, max_attempts=settings.max_attempts)  # fmt: skip
    except TRANSIENT as exc:
        if self.request.retries >= MAX_RETRIES:
            log.error("giving up on %d jobs: %s", len(job_ids), exc)
            outcome = Outcome(finished=fail_batch(database_url, job_ids, str(exc.orig)))
        else:
            # Database down or deadlocked: back off 0.25 s, 0.5 s, ... up to 30 s.
            countdown = min(2**self.request.retries * 0.25, 30)
            raise self.retry(exc=exc, countdown=countdown) from exc
    if outcome.deferred:
        publisher.jobs(outcome.deferred, queue=queue, countdown=DEFER_SECONDS)
    notifier.job_finished(outcome.finished, outcome.answers)
    observe.batch_finished(queue, outcome.records, time.monotonic() - started)
    return len(outcome.finished)

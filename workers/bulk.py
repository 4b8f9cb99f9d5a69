"""Bulk import chunks, on their own queue (``settings.bulk_queue``).

The API stores one ``bulk.import`` job and publishes one message per chunk of
items (packed: ``forum.jobqueue.chunks.pack``). A chunk is applied in one transaction
with set-based SQL, and its items' results and the job's progress commit with it:
a redelivered chunk finds its items recorded and applies nothing twice. Items
waiting for an earlier chunk (a reply whose topic is still being imported) are
re-published alone, a moment later.

A chunk that cannot be applied is split in two, each half a message of its own,
until the item at fault is alone: it fails with its reason and every other item is
applied. That is a chunk that raises an unexpected error, and a chunk whose delivery
died (its worker process lost: a segfault, an OOM kill). A delivery that follows a
death counts it (``job_chunk_crashes``) in a transaction of its own before applying
anything; an item alone fails after ``max_attempts`` crashes. A first delivery counts
nothing: it stays one transaction.
"""

import gc
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from celery import Task
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forum import bulk
from forum.clock import now_ms
from forum.db import transaction
from forum.errors import ErrorClass, error_record
from forum.jobqueue import chunks, store
from forum.jobqueue.chunks import JobHeader, Pair, ResultsConflict, pack, unpack
from forum.jobqueue.tasks import BULK_CHUNK
from forum.rules import NODEBB, Rules
from forumq.settings import get_settings
from schemas.bulk import INVALID, TYPES
from workers import observe
from workers.celery_app import celery_app, notifier, publisher
from workers.delivery import MAX_RETRIES, TRANSIENT, backoff, failure

log = logging.getLogger(__name__)
# The database failed (``workers.delivery``: retried with backoff, MAX_RETRIES times;
# then the task gives up, its message is acknowledged, and the sweeper publishes the
# job's unrecorded items again once the job has made no progress for
# bulk_stale_after_seconds), or a concurrent delivery recorded the same external ids or
# items first (retried with full lookups; a conflict that never clears isolates the
# item at fault).
RETRIED = (*TRANSIENT, IntegrityError, ResultsConflict)
# A delivery whose worker process died is published again after this long (Celery's
# retry_on_worker_lost), with its retry count raised: what tells the next delivery.
LOST_RETRY_SECONDS = 0.5
# A deferred item is retried after 0.1 s, then twice as long each time up to 0.5 s
# (a re-run costs a chunk's lookups: retrying fast while a large earlier batch is
# still applying would take CPU from it), about two minutes in all before an unknown
# external id is final even though earlier work is still unfinished.
MAX_DEFERS = 240
DEFER_SECONDS = 0.1
MAX_DEFER_SECONDS = 0.5


@dataclass
class ChunkOutcome:
    finished: bool = False  # the job completed with this chunk
    applied: int = 0
    deferred: list[Pair] = field(default_factory=list)
    request_id: str | None = None  # the job's (for the log line)


def _failed_result(index: int, raw: dict[str, Any], error: dict[str, Any]) -> bulk.ItemResult:
    kind = raw.get("item_type") or raw.get("type")
    kind = kind if isinstance(kind, str) and kind in TYPES else INVALID
    ext = raw.get("external_id")
    return bulk.ItemResult(
        index, kind, ext if isinstance(ext, str) else None, bulk.FAILED, error=error
    )


def _well_formed(raw: Any) -> bool:
    """A cheap structural check: items were validated once, by the API, and stored as
    dumps; the worker only makes sure a stored item can be dispatched."""
    return (
        isinstance(raw, dict)
        and raw.get("type") in TYPES
        and isinstance(raw.get("external_id"), str)
    )


def apply_pending(
    session: Session,
    job: JobHeader,
    items: Sequence[Pair],
    *,
    final: bool,
    optimistic: bool,
    started_at: int | None = None,
    rules: Rules = NODEBB,
) -> ChunkOutcome:
    """Apply the items of ``job`` that have no result yet, and record their results."""
    done = chunks.applied(session, job.id, [i for i, _ in items])
    todo = [(i, raw) for i, raw in items if i not in done] if done else items
    if not todo:
        return ChunkOutcome(request_id=job.request_id)
    results: list[bulk.ItemResult] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for pair in todo:
        raw = pair[1]
        if _well_formed(raw):
            valid.append(pair)
        elif isinstance(raw, dict) and raw.get("type") == INVALID:
            results.append(_failed_result(pair[0], raw, raw["error"]))
        else:
            error = error_record(ErrorClass.BAD_REQUEST, "invalid-data")
            results.append(_failed_result(pair[0], raw if isinstance(raw, dict) else {}, error))
    first = todo[0][0]

    def earlier_pending() -> bool:
        return not final and chunks.earlier_pending(session, job, first)

    stored: list[bulk.ItemResult] = []

    def record(outcome: bulk.ChunkResult) -> None:
        # Before the counter updates: that part of the transaction locks rows that
        # concurrent chunks share, so it is kept short.
        stored.extend(results + outcome.results)
        stored.sort(key=attrgetter("index"))
        chunks.store_results(session, job.id, stored)

    # The API checked that the actor is an admin; apply_items checks it again here.
    chunk = bulk.apply_items(session, job.actor_uid, valid, earlier_pending=earlier_pending,
                             before_write=record, optimistic=optimistic, rules=rules)  # fmt: skip
    if not stored and (results or chunk.results):  # nothing written: refused or empty
        record(chunk)
    finished = chunks.advance(session, job.id, stored, started_at) if stored else False
    return ChunkOutcome(finished, len(stored), chunk.deferred, job.request_id)


def apply_chunk(
    database_url: str,
    job_id: str,
    items: Sequence[Pair],
    *,
    final: bool = False,
    optimistic: bool = False,
    rules: Rules = NODEBB,
) -> ChunkOutcome:
    """One chunk of a bulk job, effectively once (the worker task's body).

    ``optimistic`` (a first attempt): the chunk's own topics and replies are taken to
    be new (``forum.bulk.apply_items``); if one was imported before, its unique
    external_id refuses the insert and the chunk runs again at once with the full
    lookups, which then give it as ``existing``."""
    started_at = now_ms()  # a queued job becomes running when the chunk records results
    if optimistic:
        try:
            return _apply_once(database_url, job_id, items, final=final, optimistic=True,
                               started_at=started_at, rules=rules)  # fmt: skip
        except IntegrityError as exc:
            log.info("bulk chunk of job %s runs again with full lookups: %s", job_id, exc.orig)
    return _apply_once(database_url, job_id, items, final=final, optimistic=False,
                       started_at=started_at, rules=rules)  # fmt: skip


def _apply_once(
    database_url: str,
    job_id: str,
    items: Sequence[Pair],
    *,
    final: bool,
    optimistic: bool,
    started_at: int,
    rules: Rules,
) -> ChunkOutcome:
    with transaction(database_url) as session:
        job = chunks.header(session, job_id)
        if job is None or job.state not in store.UNFINISHED:
            return ChunkOutcome()  # withdrawn by the API, or already complete
        return apply_pending(session, job, items, final=final, optimistic=optimistic,
                             started_at=started_at, rules=rules)  # fmt: skip


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """A chunk allocates some 100,000 short-lived dicts and lists (rows, results) that
    reference counting frees; the cyclic collector would traverse them again and
    again while they live (a quarter of a chunk's CPU). It resumes after the chunk."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def split(job_id: str, pairs: Sequence[Pair], defers: int) -> None:
    """Publish ``pairs`` again as two chunks, each applied (or split again) on its own."""
    middle = len(pairs) // 2
    for half in (pairs[:middle], pairs[middle:]):
        publisher.chunk(job_id, pack(half), defers=defers)


def count_crash(database_url: str, job_id: str, pairs: Sequence[Pair]) -> tuple[list[Pair], int]:
    """Count, and commit, a death of the delivery before this one: the items of ``pairs``
    still without a result, and how many deliveries of exactly them died."""
    with transaction(database_url) as session:
        job = chunks.header(session, job_id)
        if job is None or job.state not in store.UNFINISHED:
            return [], 0
        done = chunks.applied(session, job_id, [i for i, _ in pairs])
        todo = [pair for pair in pairs if pair[0] not in done]
        if not todo:
            return [], 0
        return todo, chunks.count_crash(session, job_id, todo[0][0], len(todo))


def fail_item(database_url: str, job_id: str, pair: Pair, error: dict[str, Any]) -> ChunkOutcome:
    """Record the item of ``pair`` failed with ``error``, in a transaction of its own
    (its chunk's rolled back), counted in the job's progress like any result."""
    started_at = now_ms()
    index, raw = pair
    try:
        with transaction(database_url) as session:
            job = chunks.header(session, job_id)
            if job is None or job.state not in store.UNFINISHED:
                return ChunkOutcome()
            if chunks.applied(session, job_id, [index]):
                return ChunkOutcome()
            result = _failed_result(index, raw if isinstance(raw, dict) else {}, error)
            chunks.store_results(session, job_id, [result])
            finished = chunks.advance(session, job_id, [result], started_at)
            return ChunkOutcome(finished, applied=1)
    except (IntegrityError, ResultsConflict):
        return ChunkOutcome()  # another delivery recorded the item first


@celery_app.task(name=BULK_CHUNK, bind=True, max_retries=MAX_RETRIES,
                 retry_on_worker_lost=True, default_retry_delay=LOST_RETRY_SECONDS)  # fmt: skip
def bulk_chunk(
    self: Task, job_id: str, packed: str, defers: int = 0, suspect: bool = False,
    errors_at: int = 0,
) -> int:  # fmt: skip
    """``suspect``: a worker may have died on it, count a crash first (the sweeper's
    re-publish; a retry whose count did not commit); ``errors_at``: the retry count when
    this code last retried it after an error."""
    with cyclic_gc_paused():
        return _bulk_chunk(self, job_id, packed, defers, crashed=_crashed(self, suspect, errors_at))


def _crashed(task: Task, suspect: bool, errors_at: int) -> bool:
    """May the delivery before this one have died applying the chunk? Celery retries a
    chunk whose worker process was lost (a retry this code did not ask for: the retry
    count passed ``errors_at``); a broker that requeues it flags it redelivered."""
    request = task.request
    redelivered = bool((request.delivery_info or {}).get("redelivered"))
    return suspect or redelivered or request.retries > errors_at


def _bulk_chunk(self: Task, job_id: str, packed: str, defers: int, *, crashed: bool) -> int:
    settings = get_settings()
    pairs = unpack(packed)
    if crashed:
        try:
            pairs, crashes = count_crash(settings.database_url, job_id, pairs)
        except TRANSIENT as exc:  # still to count: the retry is suspect too
            raise _retry(self, exc, [job_id, packed, defers, True]) from exc
        if len(pairs) > 1:
            log.warning("bulk chunk of job %s (%d items) died before: split", job_id, len(pairs))
            split(job_id, pairs, defers)
            return 0
        if not pairs:
            return 0
        if crashes >= settings.max_attempts:
            too_many = error_record(ErrorClass.INTERNAL, "too-many-attempts")
            outcome = fail_item(settings.database_url, job_id, pairs[0], too_many)
            return _finish(job_id, outcome)
    started = time.monotonic()
    try:
        # A retry follows a failure (often a conflict on an external id): full lookups.
        first_attempt = self.request.retries == 0
        outcome = apply_chunk(settings.database_url, job_id, pairs, final=defers >= MAX_DEFERS,
                              optimistic=first_attempt, rules=settings.rules)  # fmt: skip
    except RETRIED as exc:
        if isinstance(exc, TRANSIENT) or self.request.retries < MAX_RETRIES:
            raise _retry(self, exc, [job_id, packed, defers]) from exc
        return _isolate(job_id, pairs, defers, exc)  # a conflict that never clears
    except Exception as exc:
        return _isolate(job_id, pairs, defers, exc)
    if outcome.deferred:
        wait = min(DEFER_SECONDS * 2**defers, MAX_DEFER_SECONDS)
        publisher.chunk(job_id, pack(outcome.deferred), defers=defers + 1, countdown=wait)
    if outcome.finished:
        notifier.job_finished([job_id])
    observe.chunk_finished(job_id, outcome.request_id, outcome.applied, len(outcome.deferred),
                           time.monotonic() - started)  # fmt: skip
    return outcome.applied


def _retry(task: Task, exc: Exception, args: list[Any]) -> Exception:
    """The database failed, or a concurrent delivery recorded the same external ids or
    items first: retry with backoff (0.25 s doubling up to 30 s), and say that this
    code asked for it (``errors_at``: not a death)."""
    log.info("bulk chunk of job %s will be retried: %s", args[0], getattr(exc, "orig", exc))
    retries = task.request.retries
    return task.retry(args=args, kwargs={"errors_at": retries + 1}, exc=exc,
                      countdown=backoff(retries))  # fmt: skip


def _isolate(job_id: str, pairs: Sequence[Pair], defers: int, exc: Exception) -> int:
    """A chunk raised an unexpected error (its transaction rolled back): split it until
    the item at fault is alone, which then fails with the error."""
    if len(pairs) > 1:
        log.warning("bulk chunk of job %s (%d items) raised %r: split", job_id, len(pairs), exc)
        split(job_id, pairs, defers)
        return 0
    error = failure(f"bulk item {pairs[0][0]} of job {job_id}", exc)
    return _finish(job_id, fail_item(get_settings().database_url, job_id, pairs[0], error))


def _finish(job_id: str, outcome: ChunkOutcome) -> int:
    if outcome.finished:
        notifier.job_finished([job_id])
    return outcome.applied

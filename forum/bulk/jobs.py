"""Bulk jobs: per-item results (``job_items``) and progress, written in the same
transaction as the chunk's forum rows, so a redelivered chunk applies nothing twice.

A job's items travel and are stored *packed* (``pack``): the JSON text of a chunk's
``[index, item]`` pairs, zlib-compressed and base64-encoded. The job row stays
small (loading it never parses thousands of items) and a Celery message carries
one short string instead of thousands of dicts for kombu to encode."""

import base64
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, load_only

from forum import jobs
from forum.bulk.apply import FAILED, Result
from forum.bulk.sql import insert_rows
from forum.clock import now_ms
from forum.models import Job, JobItem

KIND = "bulk.import"


Pair = tuple[int, dict[str, Any]]


def pack_json(pairs: Iterable[tuple[int, bytes]]) -> str:
    """Pack ``(index, item JSON text)`` pairs (the API's dumps, never re-parsed)."""
    body = b"[" + b",".join(b"[%d,%b]" % (index, item) for index, item in pairs) + b"]"
    return base64.b64encode(zlib.compress(body, 1)).decode("ascii")


def pack(pairs: Iterable[Pair]) -> str:
    return pack_json((index, orjson.dumps(item)) for index, item in pairs)


def unpack(packed: str) -> list[Pair]:
    pairs = orjson.loads(zlib.decompress(base64.b64decode(packed)))
    return [(int(index), item) for index, item in pairs]


@dataclass(frozen=True)
class JobHeader:
    """What a chunk needs of its job: never the stored items."""

    id: str
    seq: int
    state: str
    actor_uid: int


def header(session: Session, job_id: str) -> JobHeader | None:
    row = session.execute(
        select(Job.id, Job.seq, Job.state, Job.actor_uid).where(Job.id == job_id)
    ).first()
    return JobHeader(*row) if row is not None else None


def new_progress(total: int) -> dict[str, int]:
    return {"done": 0, "failed": 0, "total": total}


def applied(session: Session, job_id: str, indexes: Sequence[int]) -> set[int]:
    """Which of ``indexes`` already have a result (a redelivered chunk skips them)."""
    if not indexes:
        return set()
    query = select(JobItem.index).where(
        JobItem.job_id == job_id, JobItem.index.between(min(indexes), max(indexes))
    )
    return set(session.scalars(query)) & set(indexes)


def earlier_pending(session: Session, job: JobHeader, first_index: int) -> bool:
    """Could earlier work still create what an item of this chunk refers to?

    True while an item before ``first_index`` of this job has no result yet, or an
    earlier bulk job is unfinished (importers send a file's batches in order)."""
    done_before = session.scalar(
        select(func.count())
        .select_from(JobItem)
        .where(JobItem.job_id == job.id, JobItem.index < first_index)
    )
    if (done_before or 0) < first_index:
        return True
    earlier = exists().where(Job.kind == KIND, Job.state.in_(jobs.UNFINISHED), Job.seq < job.seq)
    return bool(session.scalar(select(earlier)))


def mark_running(session: Session, job_id: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == jobs.QUEUED)
        .values(state=jobs.RUNNING, started_at=now_ms(), attempts=Job.attempts + 1)
    )


def record(session: Session, job_id: str, results: Sequence[Result]) -> bool:
    """Store ``results`` and advance the job's progress; True when the job is complete."""
    store_results(session, job_id, results)
    return advance(session, job_id, results)


def store_results(session: Session, job_id: str, results: Sequence[Result]) -> None:
    insert_rows(session, JobItem.__table__, [
        {"job_id": job_id, "index": r.index, "type": r.type, "external_id": r.external_id,
         "state": r.state, "forum_id": r.id, "error": r.error} for r in results
    ])  # fmt: skip


def advance(session: Session, job_id: str, results: Sequence[Result]) -> bool:
    """Advance the job's progress by ``results`` (stored); True when the job is complete.

    The job row is locked last and briefly, so chunks of one job run side by side:
    FOR NO KEY UPDATE, which the job_items foreign-key checks (KEY SHARE) of another
    chunk of this job do not block."""
    # populate_existing: the session loaded this job before the lock; another chunk
    # may have advanced its progress since, and a stale copy would lose that update.
    locked = (
        select(Job)
        .options(load_only(Job.id, Job.state, Job.progress))  # never the stored items
        .where(Job.id == job_id)
        .with_for_update(key_share=True)  # PostgreSQL: FOR NO KEY UPDATE
    )
    job = session.scalar(locked.execution_options(populate_existing=True))
    if job is None:
        return False
    progress: dict[str, Any] = dict(job.progress or new_progress(len(results)))
    progress["done"] += len(results)
    progress["failed"] += sum(1 for r in results if r.state == FAILED)
    job.progress = progress
    job.enqueued_at = now_ms()  # alive: the sweeper leaves a progressing job alone
    if progress["done"] < progress["total"] or job.state not in jobs.UNFINISHED:
        return False
    summary = {
        "total": progress["total"],
        "succeeded": progress["total"] - progress["failed"],
        "failed": progress["failed"],
    }
    jobs.finish(job, result=summary)
    return True


def item_view(row: JobItem) -> dict[str, Any]:
    return {
        "index": row.index,
        "type": row.type,
        "external_id": row.external_id,
        "state": row.state,
        "id": row.forum_id,
        "error": row.error,
    }


def items_page(session: Session, job_id: str, offset: int, limit: int) -> list[JobItem]:
    query = (
        select(JobItem)
        .where(JobItem.job_id == job_id, JobItem.index >= offset, JobItem.index < offset + limit)
        .order_by(JobItem.index)
    )
    return list(session.scalars(query))

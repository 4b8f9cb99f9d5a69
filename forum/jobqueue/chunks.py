"""Bulk jobs: their packed items, and per-item results and progress, written in the
same transaction as the chunk's forum rows, so a redelivered chunk applies nothing twice.

A chunk's results are ONE ``job_chunks`` row (``pack_results``: the items' records
in input order, zlib-compressed JSON), not one row per item: a 10,000-item chunk
writes one row and one foreign-key check instead of 10,000 of each.

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
from sqlalchemy import exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, load_only

from forum.bulk.apply import EXISTING, FAILED, ItemResult
from forum.clock import now_ms
from forum.jobqueue import store
from forum.models import Job, JobChunk, JobChunkCrash

KIND = "bulk.import"


Pair = tuple[int, dict[str, Any]]
# One item's result as stored: [index, type, external_id, state, forum id, error].
Record = list[Any]


class ResultsConflict(Exception):
    """Another delivery recorded some of this chunk's items first (the chunk is retried,
    and skips them)."""


def pack(pairs: Iterable[Pair]) -> str:
    # One orjson call for the whole chunk: a call per item costs more than its dump.
    return base64.b64encode(zlib.compress(orjson.dumps(list(pairs)), 1)).decode("ascii")


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
    request_id: str | None  # for the worker's log lines


def header(session: Session, job_id: str) -> JobHeader | None:
    columns = (Job.id, Job.seq, Job.state, Job.actor_uid, Job.request_id)
    row = session.execute(select(*columns).where(Job.id == job_id)).first()
    return JobHeader(*row) if row is not None else None


def new_progress(total: int) -> dict[str, int]:
    return {"done": 0, "failed": 0, "existing": 0, "total": total}


def pack_results(records: Sequence[Record]) -> bytes:
    return zlib.compress(orjson.dumps(records), 1)


def unpack_results(packed: bytes) -> list[Record]:
    return orjson.loads(zlib.decompress(packed))


def _records(
    session: Session, job_id: str, low: int, high: int, *, besides: int | None = None
) -> list[Record]:
    """The records of the chunks that may hold an index from ``low`` to ``high``
    (those of the chunk whose first index is ``besides`` left out)."""
    query = select(JobChunk.results).where(
        JobChunk.job_id == job_id, JobChunk.first_index <= high, JobChunk.last_index >= low
    )
    if besides is not None:
        query = query.where(JobChunk.first_index != besides)
    return [record for packed in session.scalars(query) for record in unpack_results(packed)]


def applied(session: Session, job_id: str, indexes: Iterable[int]) -> set[int]:
    """Which of ``indexes`` already have a result (a redelivered chunk skips them)."""
    wanted = set(indexes)
    if not wanted:
        return set()
    records = _records(session, job_id, min(wanted), max(wanted))
    return {record[0] for record in records if record[0] in wanted}


def earlier_pending(session: Session, job: JobHeader, first_index: int) -> bool:
    """Could earlier work still create what an item of this chunk refers to?

    True while an item before ``first_index`` of this job has no result yet, or an
    earlier bulk job is unfinished (importers send a file's batches in order)."""
    chunks = session.execute(
        select(JobChunk.last_index, JobChunk.count).where(
            JobChunk.job_id == job.id, JobChunk.first_index < first_index
        )
    ).all()
    done_before = sum(count for last, count in chunks if last < first_index)
    if any(last >= first_index for last, _ in chunks):  # a chunk around first_index
        records = _records(session, job.id, first_index, first_index)
        done_before += sum(1 for record in records if record[0] < first_index)
    if done_before < first_index:
        return True
    earlier = exists().where(Job.kind == KIND, Job.state.in_(store.UNFINISHED), Job.seq < job.seq)
    return bool(session.scalar(select(earlier)))


def store_results(session: Session, job_id: str, results: Sequence[ItemResult]) -> None:
    """``results`` (in index order) as one chunk record."""
    if not results:  # every item deferred
        return
    records = [(r.index, r.type, r.external_id, r.state, r.id, r.error) for r in results]
    session.execute(insert(JobChunk.__table__), {
        "job_id": job_id, "first_index": records[0][0], "last_index": records[-1][0],
        "count": len(records), "results": pack_results(records),
    })  # fmt: skip


def advance(
    session: Session, job_id: str, results: Sequence[ItemResult], started_at: int | None = None
) -> bool:
    """Advance the job's progress by ``results`` (stored); True when the job is complete.

    A queued job becomes running here (``started_at``: when this chunk began; now if
    None), under the lock below: marking it in a transaction of its own cost every
    chunk one more commit, and at the start of this one would hold the job row while
    the chunk's other row locks are taken (two chunks of a job could deadlock).

    The job row is locked last and briefly, so chunks of one job run side by side:
    FOR NO KEY UPDATE, which the job_chunks foreign-key check (KEY SHARE) of another
    chunk of this job does not block. Under that lock, no other chunk record of this
    job may hold one of ``results``' items: two deliveries that raced past
    ``applied`` serialise here, and the later one raises ``ResultsConflict``."""
    # populate_existing: the session loaded this job before the lock; another chunk
    # may have advanced its progress since, and a stale copy would lose that update.
    locked = (
        select(Job)
        # never the stored items
        .options(load_only(Job.id, Job.state, Job.progress, Job.started_at, Job.attempts))
        .where(Job.id == job_id)
        .with_for_update(key_share=True)  # PostgreSQL: FOR NO KEY UPDATE
    )
    job = session.scalar(locked.execution_options(populate_existing=True))
    if job is None:
        return False
    low, high = results[0].index, results[-1].index  # (in index order)
    others = _records(session, job_id, low, high, besides=low)
    if others:
        mine = {r.index for r in results}
        if any(record[0] in mine for record in others):
            raise ResultsConflict(f"job {job_id}: items recorded by another delivery")
    if job.state == store.QUEUED:
        store.count_delivery(job, started_at or now_ms())
        job.state = store.RUNNING
    progress: dict[str, Any] = dict(job.progress or new_progress(len(results)))
    progress["done"] += len(results)
    progress["failed"] += sum(1 for r in results if r.state == FAILED)
    # Items created before (a re-sent export): what `forumq import` reports as existing.
    progress["existing"] = progress.get("existing", 0) + sum(r.state == EXISTING for r in results)
    job.progress = progress
    job.enqueued_at = now_ms()  # alive: the sweeper leaves a progressing job alone
    if progress["done"] < progress["total"] or job.state not in store.UNFINISHED:
        return False
    summary = {
        "job_id": job_id,  # a client that waited for this answer finds the items by it
        "total": progress["total"],
        "succeeded": progress["total"] - progress["failed"],
        "failed": progress["failed"],
        "existing": progress["existing"],
    }
    store.finish(job, result=summary)
    return True


def count_crash(session: Session, job_id: str, first_index: int, count: int) -> int:
    """Count one more delivery of the chunk of ``count`` unrecorded items from
    ``first_index`` that died; returns how many did. The caller commits it before
    applying anything: the delivery that counts may die on the chunk as well."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = JobChunkCrash.__table__
    upsert = dialect.insert(table).values(
        job_id=job_id, first_index=first_index, count=count, crashes=1
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.job_id, table.c.first_index, table.c.count],
        set_={"crashes": table.c.crashes + 1},
    )
    return int(session.scalar(upsert.returning(table.c.crashes)) or 0)


def item_view(record: Record) -> dict[str, Any]:
    index, kind, external_id, state, forum_id, error = record
    return {"index": index, "type": kind, "external_id": external_id, "state": state,
            "id": forum_id, "error": error}  # fmt: skip


def items_page(session: Session, job_id: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """The results of items ``offset`` to ``offset + limit - 1`` that have one, in order."""
    records = _records(session, job_id, offset, offset + limit - 1)
    page = sorted((r for r in records if offset <= r[0] < offset + limit), key=lambda r: r[0])
    return [item_view(record) for record in page]

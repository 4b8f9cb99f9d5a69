"""Job rows: a write is a row before it is a message.

The API stores jobs (state ``queued``) before acknowledging them, and withdraws them
if the broker refuses their message; a worker claims them, and sets the final state
in the same transaction as the write, so a redelivered message finds its jobs
finished and applies nothing twice.
"""

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Select, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from forum.clock import iso, now_ms
from forum.db import transaction
from forum.models import Job

if TYPE_CHECKING:
    import psycopg

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
UNFINISHED = (QUEUED, RUNNING)
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
# Deliveries before a job that keeps killing its worker fails (FORUMQ_MAX_ATTEMPTS).
MAX_ATTEMPTS = 5


_JSON_COLUMNS = frozenset({"command", "result", "error", "progress"})


class DuplicateKey(Exception):
    """Another job of this actor holds the Idempotency-Key."""


class StoreUnavailable(Exception):
    """The job store cannot be reached (or cannot tell whether a job was stored)."""


def new_job_id() -> str:
    """``uuid.uuid4().hex`` (random, version 4, RFC 4122 variant) without building a
    ``UUID`` object, which costs more than the rest of the job row."""
    value = int.from_bytes(os.urandom(16))
    value = (value & _UUID4_CLEAR) | _UUID4_SET
    return f"{value:032x}"


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_job(
    job_id: str,
    kind: str,
    router: str,
    actor_uid: int,
    command: dict[str, Any],
    *,
    idempotency_key: str | None,
    request_hash: str | None,
    ordering_key: str | None = None,
    progress: dict[str, int] | None = None,
    request_id: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """A queued job's row, as ``store_jobs`` takes it (every row has the same keys)."""
    now = now or now_ms()
    return {
        "id": job_id, "kind": kind, "router": router, "actor_uid": actor_uid,
        "command": command, "state": QUEUED, "idempotency_key": idempotency_key,
        "request_hash": request_hash, "created_at": now, "enqueued_at": now,
        "ordering_key": ordering_key, "attempts": 0, "progress": progress,
        "request_id": request_id,
    }  # fmt: skip


def store_jobs(database_url: str, rows: Sequence[dict[str, Any]]) -> list[Exception | None]:
    """Store ``rows`` in one transaction; per row None (stored) or DuplicateKey."""
    outcomes: list[Exception | None] = [None] * len(rows)
    try:
        with transaction(database_url) as session:
            insert_jobs(session, rows)
    except IntegrityError:
        # An Idempotency-Key collided: store one by one so only duplicates fail.
        for i, row in enumerate(rows):
            try:
                with transaction(database_url) as session:
                    insert_jobs(session, [row])
            except IntegrityError:
                outcomes[i] = DuplicateKey()
    return outcomes


def store_spooled_job(
    database_url: str, row: dict[str, Any], command: Callable[[], Iterable[bytes]]
) -> None:
    """Store one job whose command is JSON text given in pieces (a bulk import's packed
    chunks): on PostgreSQL streamed with COPY, so it is never held whole; elsewhere
    joined and stored as ``store_jobs`` does. Raises ``DuplicateKey``."""
    with transaction(database_url) as session:
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            stored = {**row, "command": orjson.loads(b"".join(command()))}
            try:
                insert_jobs(session, [stored])
                session.flush()
            except IntegrityError:
                raise DuplicateKey() from None
            return
        from psycopg.errors import UniqueViolation  # PostgreSQL only

        columns = [name for name in row if name != "command"]
        raw = connection.connection.driver_connection
        copy_sql = f"COPY jobs ({', '.join(columns)}, command) FROM STDIN"
        try:
            with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
                copy.write(b"\t".join(_copy_text(row[name]) for name in columns) + b"\t")
                for piece in command():
                    # JSON of base64 texts: nothing that COPY's text format escapes.
                    if b"\\" in piece or b"\t" in piece or b"\n" in piece:
                        raise ValueError("a spooled command must need no COPY escapes")
                    copy.write(piece)
                copy.write(b"\n")
        except UniqueViolation:
            raise DuplicateKey() from None


def _copy_text(value: Any) -> bytes:
    """``value`` as a field of COPY's text format."""
    if value is None:
        return b"\\N"
    text = orjson.dumps(value) if isinstance(value, dict | list) else str(value).encode()
    for char, escaped in ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r")):
        text = text.replace(char, escaped)
    return text


def withdraw(database_url: str, job_ids: Sequence[str]) -> None:
    """Delete jobs whose message the broker refused (their callers get 503)."""
    with transaction(database_url) as session:
        session.execute(delete(Job).where(Job.id.in_(job_ids)))


def insert_jobs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert job rows (all with the same keys) in one driver-level executemany.

    This is the accept path's hot statement: the driver pipelines it, and skipping the
    ORM's per-row processing halves the time the API spends storing a group."""
    if not rows:
        return
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement, params = _insert_statement(rows, mark)
    connection.exec_driver_sql(statement, params)


async def insert_jobs_async(
    connection: "psycopg.AsyncConnection[Any]", rows: Sequence[dict[str, Any]]
) -> None:
    """``insert_jobs`` on a psycopg ``AsyncConnection`` (PostgreSQL, from the event loop).

    One ``COPY``: rows are encoded in C, and the group costs about a fifth less of the
    API's CPU than a pipelined executemany. On an autocommit connection the COPY is its
    own transaction (all rows or none, committed when this returns): no BEGIN and COMMIT
    round trips."""
    if not rows:
        return
    columns = list(rows[0])
    _, params = _insert_statement(rows, "%s")
    async with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY jobs ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for values in params:
            await copy.write_row(values)


def _insert_statement(
    rows: Sequence[dict[str, Any]], mark: str
) -> tuple[str, list[tuple[Any, ...]]]:
    columns = list(rows[0])
    statement = (
        f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    )
    params = [
        tuple(
            orjson.dumps(row[c]).decode() if c in _JSON_COLUMNS and row[c] is not None else row[c]
            for c in columns
        )
        for row in rows
    ]
    return statement, params


def get(session: Session, job_id: str, *, command: bool = True) -> Job | None:
    """The job; without its ``command`` unless asked (a bulk job's is its packed items,
    hundreds of kB a request: what shows a job never needs them)."""
    return session.scalar(_select_job(command).where(Job.id == job_id))


def by_idempotency_key(
    session: Session, actor_uid: int, key: str, *, command: bool = True
) -> Job | None:
    where = (Job.actor_uid == actor_uid, Job.idempotency_key == key)
    return session.scalar(_select_job(command).where(*where))


def _select_job(command: bool) -> Select[tuple[Job]]:
    # raiseload: reading a command left out is a bug to see, not a query to hide.
    return select(Job) if command else select(Job).options(defer(Job.command, raiseload=True))


def count_delivery(job: Job, started_at: int) -> None:
    """Count a delivery of ``job`` (a bulk job's chunk) started at ``started_at``."""
    job.started_at, job.attempts = started_at, job.attempts + 1


def lock_unfinished(session: Session, job_ids: Sequence[str]) -> list[Job]:
    """The batch's jobs not yet finished, locked, in acceptance order."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.id.in_(job_ids), Job.state.in_(UNFINISHED))
            .order_by(Job.seq)
            .with_for_update()
        )
    )


def claim_stale(
    session: Session,
    older_than: int,
    *,
    kinds: Sequence[str] = (),
    other_than: Sequence[str] = (),
    limit: int = 1000,
) -> list[str]:
    """Unfinished jobs last published before ``older_than`` (ms), marked as published
    now: their message was lost (broker restart) or their worker died. ``kinds`` /
    ``other_than`` pick which kinds of job to claim."""
    stale = select(Job.seq).where(Job.state.in_(UNFINISHED), Job.enqueued_at < older_than)
    if kinds:
        stale = stale.where(Job.kind.in_(kinds))
    if other_than:
        stale = stale.where(Job.kind.not_in(other_than))
    result = session.execute(
        update(Job)
        .where(Job.seq.in_(stale.order_by(Job.seq).limit(limit).scalar_subquery()))
        .where(Job.enqueued_at < older_than)
        .values(enqueued_at=now_ms())
        .returning(Job.id, Job.seq)
    )
    return [row.id for row in sorted(result, key=lambda row: row.seq)]


def newest_finished(session: Session) -> int | None:
    """Creation time of the newest succeeded job (an index scan): it moves while
    workers are applying jobs."""
    return session.scalar(select(func.max(Job.created_at)).where(Job.state == SUCCEEDED))


def list_jobs(session: Session, state: str | None, offset: int, limit: int) -> list[Job]:
    """The newest jobs, without their commands (see ``get``)."""
    query = _select_job(False).order_by(Job.seq.desc()).offset(offset).limit(limit)
    if state:
        query = query.where(Job.state == state)
    return list(session.scalars(query))


def requeue(session: Session, job_id: str) -> Job | None:
    """Put a failed job back in the queue (an operator's retry)."""
    job = get(session, job_id)
    if job is None or job.state != FAILED:
        return job
    job.state, job.error, job.result, job.finished_at = QUEUED, None, None, None
    job.attempts = 0
    job.enqueued_at = now_ms()
    return job


def expire(session: Session, keys_before: int, jobs_before: int) -> tuple[int, int]:
    """Forget Idempotency-Keys and delete finished jobs past their retention."""
    keys = session.execute(
        update(Job)
        .where(Job.idempotency_key.is_not(None), Job.created_at < keys_before)
        .values(idempotency_key=None)
    ).rowcount  # type: ignore[attr-defined]
    removed = session.execute(
        delete(Job).where(Job.state.in_((SUCCEEDED, FAILED)), Job.finished_at < jobs_before)
    ).rowcount  # type: ignore[attr-defined]
    return keys, removed


def finish(
    job: Job,
    *,
    result: Any = None,
    error: dict[str, Any] | None = None,
) -> None:
    job.state = FAILED if error else SUCCEEDED
    job.result = result
    job.error = error
    job.finished_at = now_ms()


_FINISH_PG = text("""
UPDATE jobs AS j SET state = v.state, result = v.result, error = v.error, finished_at = :now
FROM json_to_recordset(CAST(:rows AS json)) AS v(id text, state text, result json, error json)
WHERE j.id = v.id""")


def finish_all(
    session: Session, outcomes: Sequence[tuple[Job, Any, dict[str, Any] | None]]
) -> None:
    """``finish`` for many jobs (``(job, result, error)``) in one statement. The jobs'
    loaded attributes are set as committed: the session writes nothing more for them."""
    if not outcomes:
        return
    now = now_ms()
    rows = [{"id": job.id, "state": FAILED if error else SUCCEEDED, "result": result,
             "error": error} for job, result, error in outcomes]  # fmt: skip
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(_FINISH_PG, {"rows": orjson.dumps(rows).decode(), "now": now})
    else:
        connection.exec_driver_sql(
            "UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = ? WHERE id = ?",
            [(row["state"], _json(row["result"]), _json(row["error"]), now, row["id"])
             for row in rows],
        )  # fmt: skip
    for (job, _, _), row in zip(outcomes, rows, strict=True):
        for key in ("state", "result", "error"):
            set_committed_value(job, key, row[key])
        set_committed_value(job, "finished_at", now)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def finished_ids(session: Session | Connection, job_ids: Sequence[str]) -> list[str]:
    return list(
        session.scalars(
            select(Job.id).where(Job.id.in_(job_ids), Job.state.in_((SUCCEEDED, FAILED)))
        )
    )


def job_times(job: Job) -> dict[str, Any]:
    return {
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at) or None,
        "finished_at": iso(job.finished_at) or None,
    }

"""The job store: a write is a row before it is a message.

The API inserts jobs (state ``queued``) before acknowledging them; a worker sets
the final state in the same transaction as the write, so a redelivered message
finds its jobs finished and applies nothing twice.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from forum.clock import iso, now_ms
from forum.models import Job

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
UNFINISHED = (QUEUED, RUNNING)


def insert_jobs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(insert(Job), list(rows))


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def by_idempotency_key(session: Session, actor_uid: int, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.actor_uid == actor_uid, Job.idempotency_key == key))


def mark_running(session: Session, job_ids: Sequence[str]) -> None:
    session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.state.in_(UNFINISHED))
        .values(state=RUNNING, started_at=now_ms(), attempts=Job.attempts + 1)
    )


def lock_unfinished(session: Session, job_ids: Sequence[str]) -> list[Job]:
    """The batch's jobs not yet finished, locked, in the order they were sent."""
    rows = session.scalars(
        select(Job).where(Job.id.in_(job_ids), Job.state.in_(UNFINISHED)).with_for_update()
    ).all()
    position = {job_id: i for i, job_id in enumerate(job_ids)}
    return sorted(rows, key=lambda job: position[job.id])


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


def finished_ids(session: Session, job_ids: Sequence[str]) -> list[str]:
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

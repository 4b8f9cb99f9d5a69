"""The one task: apply a batch of stored jobs, effectively once.

Each job runs in its own savepoint, so one bad command fails alone; every job's
final state commits in the same transaction as its write, so a redelivered
message finds its jobs finished and does nothing.
"""

import logging
from collections.abc import Sequence
from typing import Any

from celery import Task
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from forum import jobs
from forum.db import transaction
from forum.errors import ForumError, Kind
from forumq.settings import get_settings
from schemas import load_command
from workers import registry
from workers.celery_app import celery_app
from workers.notify import Publisher

# Importing the resource modules registers their handlers.
from workers import categories, tokens, topics, users  # noqa: F401  isort: skip

registry.load_handlers()
log = logging.getLogger(__name__)
TRANSIENT = (OperationalError,)
MAX_RETRIES = 8


def error_record(kind: str, key: str, message: str, args: Sequence[str] = ()) -> dict[str, Any]:
    return {"kind": kind, "key": key, "message": message, "args": list(args)}


def _apply_one(session: Session, job: jobs.Job) -> None:
    try:
        command = load_command(job.command)
        with session.begin_nested():
            result = registry.run(session, job.actor_uid, command)
        jobs.finish(job, result=result)
    except ForumError as exc:
        jobs.finish(job, error=error_record(exc.kind, exc.key, exc.message, exc.args_))
    except ValidationError as exc:
        jobs.finish(job, error=error_record(Kind.BAD_REQUEST, "invalid-data", str(exc)))
    except IntegrityError as exc:
        # A unique key taken by a concurrent write: this job's data, not the batch's.
        log.info("job %s conflicted: %s", job.id, exc.orig)
        jobs.finish(job, error=error_record(Kind.BAD_REQUEST, "conflict", "[[error:conflict]]"))
    except TRANSIENT:
        raise
    except DBAPIError:
        raise
    except Exception:
        log.exception("job %s raised", job.id)
        jobs.finish(
            job, error=error_record("internal", "internal-server-error", "[[error:internal]]")
        )


def apply_batch(database_url: str, job_ids: Sequence[str]) -> list[str]:
    """Apply what is unfinished among ``job_ids``; returns the ids finished now."""
    with transaction(database_url) as session:
        if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
            # Losing a "running" mark in a crash is harmless: skip the fsync.
            session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        jobs.mark_running(session, job_ids)
    with transaction(database_url) as session:
        pending = jobs.lock_unfinished(session, job_ids)
        for job in pending:
            _apply_one(session, job)
        return [job.id for job in pending]


def fail_batch(database_url: str, job_ids: Sequence[str], reason: str) -> list[str]:
    """Give up on jobs after the retry limit: they end ``failed``, never stuck."""
    with transaction(database_url) as session:
        pending = jobs.lock_unfinished(session, job_ids)
        for job in pending:
            jobs.finish(job, error=error_record("unavailable", "service-unavailable", reason))
        return [job.id for job in pending]


_publisher: Publisher | None = None


def publisher() -> Publisher:
    global _publisher
    if _publisher is None:
        _publisher = Publisher(get_settings().resolved_notify_url)
    return _publisher


@celery_app.task(name="forumq.apply_jobs", bind=True, max_retries=MAX_RETRIES)
def apply_jobs(self: Task, job_ids: list[str]) -> int:
    database_url = get_settings().database_url
    try:
        finished = apply_batch(database_url, job_ids)
    except TRANSIENT as exc:
        if self.request.retries >= MAX_RETRIES:
            log.error("giving up on %d jobs: %s", len(job_ids), exc)
            finished = fail_batch(database_url, job_ids, str(exc.orig))
        else:
            raise self.retry(exc=exc, countdown=min(2**self.request.retries * 0.25, 30)) from exc
    publisher().job_finished(finished)
    return len(finished)

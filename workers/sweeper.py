"""The sweeper: a thread in each worker's main process that re-publishes jobs whose
message was lost (a broker restarted without persistence) or whose worker died, and
expires old Idempotency-Keys and finished jobs.

Jobs are claimed with one conditional UPDATE, so several workers sweeping at once
publish each stale job once; a duplicate message would be harmless anyway.
"""

import logging
import threading

from celery.signals import worker_ready, worker_shutdown
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from forum import jobs
from forum.clock import now_ms
from forum.db import transaction
from forumq.problems import one_line
from forumq.settings import get_settings

log = logging.getLogger(__name__)
_stop = threading.Event()
HOUR_MS = 3_600_000
# While workers are visibly draining a backlog, a queued job is late, not lost: it is
# re-published only once it has waited this many times the usual staleness.
BACKLOG_PATIENCE = 10
_progress: dict[str, int | None] = {"newest_finished": None}


def _draining(session: Session) -> bool:
    """Has a newer job finished since the last sweep (workers are consuming)?"""
    newest = jobs.newest_finished(session)
    previous, _progress["newest_finished"] = _progress["newest_finished"], newest
    return previous is not None and newest is not None and newest > previous


def sweep_once() -> int:
    """Re-publish stale jobs and expire old ones; returns how many were re-published."""
    from workers import bulk
    from workers.apply import enqueue

    settings = get_settings()
    now = now_ms()
    with transaction(settings.database_url) as session:
        stale_ms = int(settings.stale_after_seconds * 1000)
        if _draining(session):
            stale_ms *= BACKLOG_PATIENCE
        stale = jobs.claim_stale(session, now - stale_ms, other_than=[bulk.KIND])
        # A bulk job may wait its turn behind another import: give it longer, and
        # recover it on the bulk queue, never on the interactive one.
        stale_bulk = jobs.claim_stale(
            session, now - int(settings.bulk_stale_after_seconds * 1000), kinds=[bulk.KIND]
        )
        jobs.expire(
            session,
            keys_before=now - int(settings.idempotency_retention_hours * HOUR_MS),
            jobs_before=now - int(settings.job_retention_hours * HOUR_MS),
        )
    for start in range(0, len(stale), settings.batch_max_jobs):
        enqueue(stale[start : start + settings.batch_max_jobs])
    for job_id in stale_bulk:
        bulk.recover(settings.database_url, job_id)
    if stale or stale_bulk:
        log.warning("re-published %d stale jobs", len(stale) + len(stale_bulk))
    return len(stale) + len(stale_bulk)


def _run() -> None:
    interval = get_settings().sweep_interval_seconds
    while not _stop.wait(interval):
        try:
            sweep_once()
        except (DBAPIError, OSError, KombuOperationalError) as exc:
            # The database or broker is down: one line a round, not a traceback.
            log.warning("sweep failed, next try in %gs: %s", interval, one_line(exc))
        except Exception:
            log.exception("sweep failed")


@worker_ready.connect
def _start(**_: object) -> None:
    _stop.clear()
    threading.Thread(target=_run, name="forumq-sweeper", daemon=True).start()


@worker_shutdown.connect
def _shutdown(**_: object) -> None:
    _stop.set()

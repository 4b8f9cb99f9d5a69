"""The sweep: re-publish jobs whose message was lost (a broker restarted without
persistence) or whose worker died, and expire old Idempotency-Keys and finished jobs.

Jobs are claimed with one conditional UPDATE, so several workers sweeping at once
publish each stale job once; a duplicate message would be harmless anyway.
"""

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from forum.clock import now_ms
from forum.db import session_factory, transaction
from forum.jobqueue import chunks, store
from forum.jobqueue.tasks import Publisher

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000
# While workers are visibly draining a backlog, a queued job is late, not lost: it is
# re-published only once it has waited this many times the usual staleness.
BACKLOG_PATIENCE = 10


@dataclass(frozen=True)
class SweepPolicy:
    """When a job counts as lost, and how long finished ones are kept (settings)."""

    stale_after_seconds: float = 30.0
    # A bulk job may queue behind other imports: it is recovered only after this long
    # without progress (each applied chunk counts as progress).
    bulk_stale_after_seconds: float = 300.0
    idempotency_retention_hours: float = 24.0
    job_retention_hours: float = 168.0
    batch_max_jobs: int = 200


class Sweeper:
    """One process's sweeps; it remembers the newest finished job between them."""

    def __init__(self, database_url: str, publisher: Publisher, policy: SweepPolicy) -> None:
        self.database_url = database_url
        self.publisher = publisher
        self.policy = policy
        self._newest_finished: int | None = None

    def _draining(self, session: Session) -> bool:
        """Has a newer job finished since the last sweep (workers are consuming)?"""
        newest = store.newest_finished(session)
        previous, self._newest_finished = self._newest_finished, newest
        return previous is not None and newest is not None and newest > previous

    def sweep_once(self) -> int:
        """Re-publish stale jobs and expire old ones; returns how many were re-published."""
        policy, now = self.policy, now_ms()
        with transaction(self.database_url) as session:
            stale_ms = int(policy.stale_after_seconds * 1000)
            if self._draining(session):
                stale_ms *= BACKLOG_PATIENCE
            stale = store.claim_stale(session, now - stale_ms, other_than=[chunks.KIND])
            # A bulk job may wait its turn behind another import: give it longer, and
            # recover it on the bulk queue, never on the interactive one.
            bulk_before = now - int(policy.bulk_stale_after_seconds * 1000)
            stale_bulk = store.claim_stale(session, bulk_before, kinds=[chunks.KIND])
            store.expire(
                session,
                keys_before=now - int(policy.idempotency_retention_hours * HOUR_MS),
                jobs_before=now - int(policy.job_retention_hours * HOUR_MS),
            )
        for start in range(0, len(stale), policy.batch_max_jobs):
            self.publisher.jobs(stale[start : start + policy.batch_max_jobs])
        for job_id in stale_bulk:
            recover(self.database_url, self.publisher, job_id)
        if stale or stale_bulk:
            log.warning("re-published %d stale jobs", len(stale) + len(stale_bulk))
        return len(stale) + len(stale_bulk)


def recover(database_url: str, publisher: Publisher, job_id: str) -> int:
    """Publish again, as chunks on the bulk queue, the items of a stale bulk job that
    have no result yet (their messages were lost); returns how many."""
    with session_factory(database_url)() as session:
        job = store.get(session, job_id)
        if job is None or job.state not in store.UNFINISHED:
            return 0
        packed_chunks: list[str] = job.command["chunks"]
        total = (job.progress or {}).get("total", 0)
        done = chunks.applied(session, job_id, range(total))
    pending = 0
    for packed in packed_chunks:  # one chunk in memory at a time
        todo = [(index, raw) for index, raw in chunks.unpack(packed) if index not in done]
        if todo:
            # Its worker may have died on it: the delivery counts a crash first.
            publisher.chunk(job_id, chunks.pack(todo), suspect=True)
            pending += len(todo)
    return pending

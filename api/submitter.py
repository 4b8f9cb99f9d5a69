"""Storing and enqueueing jobs in groups.

Requests that arrive while earlier groups are being stored share one database
transaction and one broker message, so the accept path pays the broker's
per-message cost once per group, not once per write (measured-ceilings.md).
A job is committed before it is published; if publishing fails, the group's jobs
are removed again and the callers get 503: nothing acknowledged is left behind.
"""

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.errors import ApiError, unavailable
from api.metrics import ACCEPT_GROUP_SIZE, JOBS_ACCEPTED
from forum import jobs
from forum.db import transaction
from forum.models import Job
from workers.apply import apply_jobs

log = logging.getLogger(__name__)


class DuplicateKey(Exception):
    """Another job of this actor holds the Idempotency-Key."""


@dataclass
class Draft:
    row: dict[str, Any]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Submitter:
    """Groups pending jobs, stores each group in one transaction, then publishes it.

    Two stages overlap: while one group is being published, the next one is being
    stored. Groups are stored one at a time, so ``seq`` order is commit order: the
    worker's ordering rule never misses an earlier job still being committed.
    Publishing order does not matter (jobs on one object apply in ``seq`` order)."""

    STORE_THREADS = 1

    def __init__(self, database_url: str, queue: str, max_batch: int) -> None:
        self._database_url = database_url
        self._queue_name = queue
        self._max_batch = max_batch
        self._pending: asyncio.Queue[Draft] = asyncio.Queue()
        self._storing = asyncio.Semaphore(self.STORE_THREADS)
        self._stores = ThreadPoolExecutor(self.STORE_THREADS, thread_name_prefix="forumq-store")
        self._publisher = ThreadPoolExecutor(1, thread_name_prefix="forumq-publish")
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._stores.shutdown(wait=True)
        self._publisher.shutdown(wait=True)

    async def submit(self, row: dict[str, Any]) -> None:
        """Store and enqueue one job; raises DuplicateKey or ApiError (503)."""
        draft = Draft(row)
        await self._pending.put(draft)
        await draft.done

    async def _run(self) -> None:
        while True:
            group = [await self._pending.get()]
            await self._storing.acquire()
            # Whatever arrived while we waited for a free store thread joins the group.
            while len(group) < self._max_batch and not self._pending.empty():
                group.append(self._pending.get_nowait())
            task = asyncio.create_task(self._accept(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _accept(self, group: list[Draft]) -> None:
        loop = asyncio.get_running_loop()
        try:
            try:
                outcomes = await loop.run_in_executor(self._stores, self._store, group)
            finally:
                self._storing.release()
            outcomes = await loop.run_in_executor(self._publisher, self._publish, group, outcomes)
        except Exception as exc:  # the database or broker is unreachable
            log.warning("could not accept %d jobs: %s", len(group), exc)
            outcomes = [unavailable("The job store or broker is unreachable.")] * len(group)
        for draft, outcome in zip(group, outcomes, strict=True):
            if draft.done.done():
                continue
            if outcome is None:
                draft.done.set_result(None)
            else:
                draft.done.set_exception(outcome)

    def _store(self, group: list[Draft]) -> list[Exception | None]:
        outcomes: list[Exception | None] = [None] * len(group)
        try:
            with transaction(self._database_url) as session:
                jobs.insert_jobs(session, [d.row for d in group])
        except IntegrityError:
            # An Idempotency-Key collided: store one by one so only duplicates fail.
            for i, draft in enumerate(group):
                try:
                    with transaction(self._database_url) as session:
                        jobs.insert_jobs(session, [draft.row])
                except IntegrityError:
                    outcomes[i] = DuplicateKey()
        return outcomes

    def _publish(
        self, group: list[Draft], outcomes: list[Exception | None]
    ) -> list[Exception | None]:
        stored = [d.row["id"] for d, o in zip(group, outcomes, strict=True) if o is None]
        if not stored:
            return outcomes
        ACCEPT_GROUP_SIZE.observe(len(stored))
        try:
            apply_jobs.apply_async(args=[stored], queue=self._queue_name)
        except Exception as exc:
            log.warning("broker refused %d jobs: %s", len(stored), exc)
            self._withdraw(stored)
            error: ApiError = unavailable("The message broker is unreachable.")
            return [o if o is not None else error for o in outcomes]
        for draft, outcome in zip(group, outcomes, strict=True):
            if outcome is None:
                JOBS_ACCEPTED.labels(draft.row["kind"]).inc()
        return outcomes

    def _withdraw(self, job_ids: list[str]) -> None:
        try:
            with transaction(self._database_url) as session:
                session.execute(delete(Job).where(Job.id.in_(job_ids)))
        except SQLAlchemyError:
            log.error("jobs %s stored but not published; left for the sweeper", job_ids)

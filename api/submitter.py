"""Storing and enqueueing jobs in groups.

Requests that arrive while earlier groups are being stored share one database
transaction and one broker message, so the accept path pays the broker's
per-message cost once per group, not once per write (measured-ceilings.md).
A job is committed before it is published; if publishing fails, the group's jobs
are removed again and the callers get 503: nothing acknowledged is left behind.

On PostgreSQL a group is stored from the event loop (psycopg ``AsyncConnection``) and on
a Redis broker it is published from the event loop too (one ``LPUSH`` of the Celery
message kombu would have written): the API process then has no thread contending for
the GIL with the event loop. SQLite and other brokers keep the thread path.
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
from api.job_store import IO_TIMEOUT_SECONDS, AsyncStore, DuplicateKey, async_store_url
from api.metrics import ACCEPT_GROUP_SIZE, JOBS_ACCEPTED
from api.task_messages import RedisPublisher, redis_broker_url
from forum import jobs
from forum.db import transaction
from forum.models import Job
from workers.apply import apply_jobs

log = logging.getLogger(__name__)


@dataclass
class Draft:
    row: dict[str, Any]
    durable: bool
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
        store_url = async_store_url(database_url)
        self._async_store = AsyncStore(store_url) if store_url else None
        broker_url = redis_broker_url()
        self._redis = RedisPublisher(broker_url, queue) if broker_url else None
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
        if self._async_store:
            await self._async_store.close()
        if self._redis:
            await self._redis.close()
        self._stores.shutdown(wait=True)
        self._publisher.shutdown(wait=True)

    async def submit(self, row: dict[str, Any], *, durable: bool = True) -> None:
        """Store and enqueue one job; raises DuplicateKey or ApiError (503).

        ``durable=False`` is for a caller that waits for the job's result: its job may
        be committed without an fsync of its own (``api.job_store``), and ``flush``
        must run before it is answered 202."""
        draft = Draft(row, durable)
        await self._pending.put(draft)
        await draft.done

    async def flush(self) -> None:
        """Make the jobs stored so far durable (raises ApiError 503 if it cannot)."""
        if self._async_store:
            await self._async_store.flush()
        # The thread path always commits synchronously.

    async def _run(self) -> None:
        while True:
            group = [await self._pending.get()]
            await self._storing.acquire()
            # Whatever arrived while the previous group was being stored joins the group.
            while len(group) < self._max_batch and not self._pending.empty():
                group.append(self._pending.get_nowait())
            task = asyncio.create_task(self._accept(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _accept(self, group: list[Draft]) -> None:
        loop = asyncio.get_running_loop()
        rows = [d.row for d in group]
        try:
            try:
                if self._async_store:
                    durable = any(d.durable for d in group)
                    outcomes = await self._async_store.store(rows, durable=durable)
                else:
                    outcomes = await loop.run_in_executor(self._stores, self._store, rows)
            finally:
                self._storing.release()
            outcomes = await self._publish(rows, outcomes)
        except Exception as exc:  # the database or broker is unreachable
            log.warning("could not accept %d jobs: %r", len(group), exc)
            outcomes = [unavailable("The job store or broker is unreachable.")] * len(group)
        for draft, outcome in zip(group, outcomes, strict=True):
            if draft.done.done():
                continue
            if outcome is None:
                draft.done.set_result(None)
            else:
                draft.done.set_exception(outcome)

    def _store(self, rows: list[dict[str, Any]]) -> list[Exception | None]:
        outcomes: list[Exception | None] = [None] * len(rows)
        try:
            with transaction(self._database_url) as session:
                jobs.insert_jobs(session, rows)
        except IntegrityError:
            # An Idempotency-Key collided: store one by one so only duplicates fail.
            for i, row in enumerate(rows):
                try:
                    with transaction(self._database_url) as session:
                        jobs.insert_jobs(session, [row])
                except IntegrityError:
                    outcomes[i] = DuplicateKey()
        return outcomes

    async def _publish(
        self, rows: list[dict[str, Any]], outcomes: list[Exception | None]
    ) -> list[Exception | None]:
        stored = [row["id"] for row, o in zip(rows, outcomes, strict=True) if o is None]
        if not stored:
            return outcomes
        ACCEPT_GROUP_SIZE.observe(len(stored))
        loop = asyncio.get_running_loop()
        try:
            if self._redis:
                await asyncio.wait_for(self._redis.publish(stored), IO_TIMEOUT_SECONDS)
            else:
                await loop.run_in_executor(self._publisher, self._apply_async, stored)
        except Exception as exc:
            log.warning("broker refused %d jobs: %r", len(stored), exc)
            await loop.run_in_executor(self._publisher, self._withdraw, stored)
            error: ApiError = unavailable("The message broker is unreachable.")
            return [o if o is not None else error for o in outcomes]
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome is None:
                JOBS_ACCEPTED.labels(row["kind"]).inc()
        return outcomes

    def _apply_async(self, job_ids: list[str]) -> None:
        apply_jobs.apply_async(args=[job_ids], queue=self._queue_name)

    def _withdraw(self, job_ids: list[str]) -> None:
        try:
            with transaction(self._database_url) as session:
                session.execute(delete(Job).where(Job.id.in_(job_ids)))
        except SQLAlchemyError:
            log.error("jobs %s stored but not published; left for the sweeper", job_ids)

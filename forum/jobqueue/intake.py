"""The API's end of the job queue: store job rows, publish their messages, and
withdraw the rows whose message the broker refused (nothing acknowledged is left
behind, nothing unpublished stays queued).

On PostgreSQL a group is stored from the event loop (``async_store``) and on a Redis
broker it is published from the event loop too (``publishing``): the API process then
has no thread contending for the GIL with the event loop. SQLite and other brokers
take a thread."""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from forum.jobqueue import store
from forum.jobqueue.async_store import AsyncStore, async_store_url
from forum.jobqueue.publishing import AsyncPublisher
from forum.jobqueue.tasks import Publisher

log = logging.getLogger(__name__)


class Intake:
    """Stores and publishes jobs; ``store`` serves one group at a time (its caller
    keeps it so: a group's retries must never let a later group commit first)."""

    def __init__(self, database_url: str, publisher: Publisher) -> None:
        self._database_url = database_url
        url = async_store_url(database_url)
        self._async_store = AsyncStore(url) if url else None
        self._stores = ThreadPoolExecutor(1, thread_name_prefix="forumq-store")
        self._withdrawals = ThreadPoolExecutor(1, thread_name_prefix="forumq-withdraw")
        self._publisher = AsyncPublisher(publisher)

    async def store(
        self, rows: list[dict[str, Any]], *, durable: bool = True
    ) -> list[Exception | None]:
        """Store a group of job rows; per row None (stored), ``store.DuplicateKey`` or
        ``store.StoreUnavailable``. Not ``durable`` (PostgreSQL): committed without an
        fsync of its own, and ``flush`` must run before a caller is promised the job."""
        if self._async_store:
            return await self._async_store.store(rows, durable=durable)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._stores, store.store_jobs, self._database_url, rows)

    async def store_one(self, row: dict[str, Any]) -> None:
        """Store one job on its own, durably (a bulk import: one large row, kept off the
        event loop and out of the groups); raises ``store.DuplicateKey``."""
        outcome = (await asyncio.to_thread(store.store_jobs, self._database_url, [row]))[0]
        if outcome is not None:
            raise outcome

    async def store_spooled(self, row: dict[str, Any], command: Any) -> None:
        """Store one job whose command is JSON text in pieces (``store.store_spooled_job``:
        a bulk import's chunks, never held whole), in a thread; raises ``DuplicateKey``."""
        await asyncio.to_thread(store.store_spooled_job, self._database_url, row, command)

    async def flush(self) -> None:
        """Make the jobs stored so far durable (raises ``store.StoreUnavailable``)."""
        if self._async_store:
            await self._async_store.flush()
        # The thread path always commits synchronously.

    async def publish_jobs(self, job_ids: Sequence[str]) -> None:
        await self._publisher.jobs(job_ids)

    async def publish_chunks(self, job_id: str, chunks: Iterable[str]) -> None:
        await self._publisher.chunks(job_id, chunks)

    async def withdraw(self, job_ids: Sequence[str]) -> None:
        """Delete stored jobs whose message the broker refused; if the database fails
        too, they stay queued and the sweeper publishes them later."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._withdrawals, store.withdraw, self._database_url, job_ids
            )
        except SQLAlchemyError:
            log.error("jobs %s stored but not published; left for the sweeper", job_ids)

    async def close(self) -> None:
        if self._async_store:
            await self._async_store.close()
        await self._publisher.close()
        self._stores.shutdown(wait=True)
        self._withdrawals.shutdown(wait=True)

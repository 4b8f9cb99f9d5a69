"""Waiting for jobs to finish: futures per job id, woken by the workers' completion
notices (``forum.jobqueue.notices``, Redis pub/sub) or, without Redis, by polling the
jobs table when a worker rings (on SQLite) or on a timer."""

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

from forum.db import session_factory
from forum.jobqueue import broker, store
from forum.jobqueue.notices import CHANNEL, Answer, decode, doorbells

POLL_INTERVAL = 0.02
# With a doorbell a worker rings when jobs finish: the timer is only a fallback.
RUNG_POLL_INTERVAL = 0.2
log = logging.getLogger(__name__)


class Waiter:
    """Futures for job ids, woken by Redis pub/sub or by polling the database."""

    def __init__(self, notify_url: str | None, database_url: str) -> None:
        self._notify_url = notify_url
        self._database_url = database_url
        self._waiting: dict[str, list[asyncio.Future[Answer | None]]] = {}
        self._task: asyncio.Task[None] | None = None
        # Set while someone waits: the poll loop sleeps without waking when nobody does.
        self._someone_waits = asyncio.Event()
        self._doorbell: broker.Doorbell | None = None
        self._rung = asyncio.Event()

    async def start(self) -> None:
        if not self._notify_url:
            self._ring_here()
        loop_body = self._listen if self._notify_url else self._poll
        self._task = asyncio.create_task(loop_body())

    def _ring_here(self) -> None:
        directory = doorbells(self._database_url)
        if directory is None:
            return
        try:
            self._doorbell = broker.Doorbell(directory)
        except OSError:
            log.warning("no doorbell in %s: polling finished jobs on a timer", directory)
            return
        asyncio.get_running_loop().add_reader(self._doorbell.fileno(), self._on_ring)

    def _on_ring(self) -> None:
        if self._doorbell is not None:
            self._doorbell.clear()
        self._rung.set()

    async def stop(self) -> None:
        if self._task:
            # redis-py swallows a cancellation that lands while it connects (an API
            # stopped right after starting, e.g. its port was taken): cancel until done.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._doorbell is not None:
            asyncio.get_running_loop().remove_reader(self._doorbell.fileno())
            self._doorbell.close()
            self._doorbell = None

    def expect(self, job_id: str) -> asyncio.Future[Answer | None]:
        """Register interest before the job is stored, so no finish is missed."""
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, []).append(future)
        self._someone_waits.set()
        return future

    def forget(self, job_id: str, future: asyncio.Future[Answer | None]) -> None:
        futures = self._waiting.get(job_id, [])
        if future in futures:
            futures.remove(future)
        if not futures:
            self._waiting.pop(job_id, None)

    async def wait(
        self, job_id: str, timeout: float, expected: asyncio.Future[Answer | None] | None = None
    ) -> Answer | None:
        """Return when ``job_id`` finished or ``timeout`` passed: the job's final answer
        if the notice carried it, else None (the caller then reads the job's state).
        ``expected`` is a future from ``expect`` taken earlier."""
        finished = expected or self.expect(job_id)
        try:
            if timeout > 0:
                return await asyncio.wait_for(asyncio.shield(finished), timeout)
        except TimeoutError:
            pass
        finally:
            self.forget(job_id, finished)
        return None

    def _wake(self, finished: dict[str, Answer | None]) -> None:
        for job_id, answer in finished.items():
            for future in self._waiting.pop(job_id, []):
                if not future.done():
                    future.set_result(answer)

    async def _listen(self) -> None:
        while True:
            try:
                client = aioredis.Redis.from_url(self._notify_url)
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._wake(decode(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("job notifications lost; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)

    async def _poll(self) -> None:
        make_session = session_factory(self._database_url)

        def finished(ids: list[str]) -> list[str]:
            with make_session() as session:
                return store.finished_ids(session, ids)

        while True:
            if not self._waiting:
                self._someone_waits.clear()
                await self._someone_waits.wait()
            interval = POLL_INTERVAL if self._doorbell is None else RUNG_POLL_INTERVAL
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rung.wait(), interval)
            self._rung.clear()
            if not self._waiting:
                continue
            try:
                done = await asyncio.to_thread(finished, list(self._waiting)[:500])
            except Exception:
                log.warning("polling jobs failed", exc_info=True)
                continue
            self._wake(dict.fromkeys(done))

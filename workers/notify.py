"""Telling waiting requests that their jobs finished.

With Redis configured, workers publish finished job ids on a channel and each API
process wakes the matching waiters; without it (the embedded default), the API
polls the jobs table for the ids it waits on. Either way a missed message only
costs the wait: the API reads the job's state from the database at the end.

A notice carries each finished job's final answer (state, result or error) when it
is small, so a waiting request answers without reading the job back; a notice with
ids only (bulk jobs, big results, polling) sends it to the database as before.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from forum import jobs
from forum.db import session_factory

CHANNEL = "forumq:jobs:finished"
POLL_INTERVAL = 0.02
# Bigger answers (a long post) go by id: the API reads them back, pub/sub stays light.
MAX_ANSWER_BYTES = 16_384
log = logging.getLogger(__name__)
# A finished job's final answer: {"state", "result", "error"} as stored on the job.
Answer = dict[str, Any]


def encode(job_ids: Iterable[str], answers: dict[str, Answer] | None = None) -> bytes:
    """``id,id,...`` (ids only), or a JSON list of ``id`` / ``[id, answer]`` entries."""
    ids = list(job_ids)
    if not answers:
        return ",".join(ids).encode()
    entries: list[Any] = []
    for job_id in ids:
        answer = answers.get(job_id)
        packed = orjson.dumps(answer) if answer is not None else b""
        if answer is None or len(packed) > MAX_ANSWER_BYTES:
            entries.append(job_id)
        else:
            entries.append([job_id, orjson.Fragment(packed)])
    return orjson.dumps(entries)


def decode(data: bytes) -> dict[str, Answer | None]:
    """Finished job ids, each with its answer when the notice carried it."""
    if not data.startswith(b"["):
        return dict.fromkeys(data.decode().split(","))
    decoded: dict[str, Answer | None] = {}
    for entry in orjson.loads(data):
        if isinstance(entry, str):
            decoded[entry] = None
        else:
            decoded[entry[0]] = entry[1]
    return decoded


class Publisher:
    def __init__(self, notify_url: str | None) -> None:
        self._client = redis.Redis.from_url(notify_url) if notify_url else None

    def job_finished(
        self, job_ids: Iterable[str], answers: dict[str, Answer] | None = None
    ) -> None:
        ids = list(job_ids)
        if self._client is None or not ids:
            return
        try:
            self._client.publish(CHANNEL, encode(ids, answers))
        except redis.RedisError:
            log.warning("could not announce %d finished jobs", len(ids), exc_info=True)


class Waiter:
    """Futures for job ids, woken by Redis pub/sub or by polling the database."""

    def __init__(self, notify_url: str | None, database_url: str) -> None:
        self._notify_url = notify_url
        self._database_url = database_url
        self._waiting: dict[str, list[asyncio.Future[Answer | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop_body = self._listen if self._notify_url else self._poll
        self._task = asyncio.create_task(loop_body())

    async def stop(self) -> None:
        if self._task:
            # redis-py swallows a cancellation that lands while it connects (an API
            # stopped right after starting, e.g. its port was taken): cancel until done.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def expect(self, job_id: str) -> asyncio.Future[Answer | None]:
        """Register interest before the job is stored, so no finish is missed."""
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, []).append(future)
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
                return jobs.finished_ids(session, ids)

        while True:
            await asyncio.sleep(POLL_INTERVAL)
            if not self._waiting:
                continue
            try:
                done = await asyncio.to_thread(finished, list(self._waiting)[:500])
            except Exception:
                log.warning("polling jobs failed", exc_info=True)
                continue
            self._wake(dict.fromkeys(done))

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
import base64
import contextlib
import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.errors import ApiError, unavailable
from api.metrics import ACCEPT_GROUP_SIZE, JOBS_ACCEPTED
from forum import jobs
from forum.db import transaction
from forum.models import Job
from workers.apply import apply_jobs
from workers.celery_app import celery_app

log = logging.getLogger(__name__)

# A store or publish that takes longer than this is abandoned: its callers get 503.
IO_TIMEOUT_SECONDS = 10.0


class DuplicateKey(Exception):
    """Another job of this actor holds the Idempotency-Key."""


@dataclass
class Draft:
    row: dict[str, Any]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def async_store_url(database_url: str) -> str | None:
    """The libpq URL for psycopg's ``AsyncConnection``, or None if the database is not
    PostgreSQL (SQLite keeps the thread path)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncStore:
    """Stores groups of jobs on one long-lived ``AsyncConnection``.

    Used by one group at a time (the Submitter's store semaphore), so a group's retries
    never let a later group commit first. A connection lost while a group was being
    stored leaves the group in doubt (the COPY may have committed just before): a new
    connection asks which of its jobs exist, and only the others are stored again. A
    group is answered 503 only when the database cannot be reached, or cannot tell,
    within ``IO_TIMEOUT_SECONDS``."""

    RECONNECT_PAUSE_SECONDS = 0.2

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def store(self, rows: list[dict[str, Any]]) -> list[Exception | None]:
        """Per row: None (committed), DuplicateKey, or an ApiError (503)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IO_TIMEOUT_SECONDS
        outcomes: dict[str, Exception | None] = {}
        pending = rows
        while pending:
            try:
                connection = await self._connect()
            except (psycopg.Error, OSError) as exc:  # nothing was sent: plainly refused
                log.warning("job store unreachable: %r", exc)
                break
            try:
                stored = await asyncio.wait_for(
                    self._copy(connection, pending), max(deadline - loop.time(), 0.1)
                )
            except (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError) as exc:
                await self.close()
                log.warning("job store connection lost storing %d jobs: %r", len(pending), exc)
                committed = await self._committed([row["id"] for row in pending], deadline)
                if committed is None:
                    log.error(
                        "jobs %s may or may not be stored (answered 503; the sweeper "
                        "publishes them if they were)",
                        [row["id"] for row in pending],
                    )
                    break
                outcomes.update(dict.fromkeys(committed))
                pending = [row for row in pending if row["id"] not in committed]
                continue
            except BaseException:
                await self.close()
                raise
            outcomes.update(stored)
            pending = []
        refused = unavailable("The job store is unreachable.")
        return [outcomes.get(row["id"], refused) for row in rows]

    async def _copy(
        self, connection: psycopg.AsyncConnection[Any], rows: list[dict[str, Any]]
    ) -> dict[str, Exception | None]:
        # Autocommit: each COPY is one transaction, all its rows or none, committed
        # (synchronously) before it returns.
        outcomes: dict[str, Exception | None] = dict.fromkeys(row["id"] for row in rows)
        try:
            await jobs.insert_jobs_async(connection, rows)
        except psycopg.errors.UniqueViolation:
            # An Idempotency-Key collided: store one by one so only duplicates fail.
            for row in rows:
                try:
                    await jobs.insert_jobs_async(connection, [row])
                except psycopg.errors.UniqueViolation:
                    outcomes[row["id"]] = DuplicateKey()
        return outcomes

    async def _committed(self, job_ids: list[str], deadline: float) -> set[str] | None:
        """Which of these jobs exist, asked on a new connection; None if the database
        cannot tell before ``deadline``."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection = await self._connect()
                cursor = await asyncio.wait_for(
                    connection.execute("SELECT id FROM jobs WHERE id = ANY(%s)", [job_ids]),
                    max(deadline - loop.time(), 0.1),
                )
                return {job_id for (job_id,) in await cursor.fetchall()}
            except (psycopg.Error, OSError, TimeoutError):
                await self.close()
            if loop.time() + self.RECONNECT_PAUSE_SECONDS > deadline:
                return None
            await asyncio.sleep(self.RECONNECT_PAUSE_SECONDS)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=3
        )
        # A 202 promises the job survives a crash: never acknowledge on an
        # asynchronous commit, whatever the server's default.
        cursor = await connection.execute("SHOW synchronous_commit")
        if (await cursor.fetchone()) == ("off",):
            await connection.execute("SET synchronous_commit TO on")
        self._connection = connection
        return connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


def redis_broker_url() -> str | None:
    """The broker URL if the fast publish path can serve it: plain Redis, no transport
    options (a key prefix, priority steps or another body encoding change the message)."""
    conf = celery_app.conf
    url = str(conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://")) or conf.broker_transport_options:
        return None
    if conf.task_protocol != 2 or conf.task_serializer != "json" or conf.task_compression:
        return None
    return url


class RedisPublisher:
    """Publishes ``forumq.apply_jobs`` messages with one ``LPUSH`` each, from the event loop.

    The message is what Celery's ``apply_async`` and kombu's Redis transport write
    (protocol 2: celery/app/amqp.py ``as_task_v2``, kombu/transport/redis.py ``_put``),
    built without Celery's per-message work (producer pool, routing, signals)."""

    TASK = "forumq.apply_jobs"

    def __init__(self, url: str, queue: str) -> None:
        # Fail fast like Celery's publish retry policy (2 retries, 0.2 s apart): a broker
        # that is down answers 503 in well under a second, never a hung request.
        self._redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=3,
            socket_timeout=IO_TIMEOUT_SECONDS,
            retry=Retry(ConstantBackoff(0.2), 2),
        )
        self._queue = queue
        self._origin = f"gen{os.getpid()}@{socket.gethostname()}"
        self._reply_to = celery_app.thread_oid
        self._argsrepr_max = celery_app.amqp.argsrepr_maxsize

    async def publish(self, job_ids: list[str]) -> None:
        await self._redis.lpush(self._queue, self.message(job_ids))

    def message(self, job_ids: list[str]) -> bytes:
        task_id = str(uuid.uuid4())
        args = [job_ids]
        body = orjson.dumps(
            [args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
        )
        argsrepr = repr(args)
        if len(argsrepr) > self._argsrepr_max:
            argsrepr = argsrepr[: self._argsrepr_max - 3] + "..."
        return orjson.dumps(
            {
                "body": base64.b64encode(body).decode(),
                "content-encoding": "utf-8",
                "content-type": "application/json",
                "headers": {
                    "lang": "py",
                    "task": self.TASK,
                    "id": task_id,
                    "shadow": None,
                    "eta": None,
                    "expires": None,
                    "group": None,
                    "group_index": None,
                    "retries": 0,
                    "timelimit": [None, None],
                    "root_id": task_id,
                    "parent_id": None,
                    "argsrepr": argsrepr,
                    "kwargsrepr": "{}",
                    "origin": self._origin,
                    "ignore_result": apply_jobs.ignore_result,
                    "replaced_task_nesting": 0,
                    "stamped_headers": None,
                    "stamps": {},
                },
                "properties": {
                    "correlation_id": task_id,
                    "reply_to": self._reply_to,
                    "delivery_mode": 2,
                    "delivery_info": {"exchange": "", "routing_key": self._queue},
                    "priority": 0,
                    "body_encoding": "base64",
                    "delivery_tag": str(uuid.uuid4()),
                },
            }
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.aclose()


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

    async def submit(self, row: dict[str, Any]) -> None:
        """Store and enqueue one job; raises DuplicateKey or ApiError (503)."""
        draft = Draft(row)
        await self._pending.put(draft)
        await draft.done

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
                    outcomes = await self._async_store.store(rows)
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

"""Publishing Celery task messages to a Redis broker from the event loop
(``forumq.apply_jobs`` groups, ``forumq.bulk_chunk`` chunks)."""

import base64
import contextlib
import os
import socket
import uuid
from typing import Any

import orjson
import redis.asyncio as aioredis
from celery import Task
from celery.utils.saferepr import saferepr
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff

from api.job_store import IO_TIMEOUT_SECONDS
from workers.apply import apply_jobs
from workers.celery_app import celery_app


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
    """Publishes task messages with one ``LPUSH`` each, from the event loop.

    The message is what Celery's ``apply_async`` and kombu's Redis transport write
    (protocol 2: celery/app/amqp.py ``as_task_v2``, kombu/transport/redis.py ``_put``),
    built without Celery's per-message work (producer pool, routing, signals)."""

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
        self._repr_levels = celery_app.conf.task_repr_maxlevels

    async def publish(self, job_ids: list[str]) -> None:
        """One ``forumq.apply_jobs`` message."""
        await self.push(self.message(job_ids))

    async def push(self, message: bytes) -> None:
        await self._redis.lpush(self._queue, message)

    def message(self, job_ids: list[str]) -> bytes:
        return self.task_message(apply_jobs, [job_ids])

    def task_message(self, task: Task, args: list[Any]) -> bytes:
        """The message ``task.apply_async(args=args, queue=<this queue>)`` would write."""
        task_id = str(uuid.uuid4())
        body = orjson.dumps(
            [args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
        )
        return orjson.dumps(
            {
                "body": base64.b64encode(body).decode(),
                "content-encoding": "utf-8",
                "content-type": "application/json",
                "headers": {
                    "lang": "py",
                    "task": task.name,
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
                    "argsrepr": self._argsrepr(args),
                    "kwargsrepr": "{}",
                    "origin": self._origin,
                    "ignore_result": task.ignore_result,
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

    def _argsrepr(self, args: list[Any]) -> str:
        if any(isinstance(arg, str) and len(arg) > self._argsrepr_max for arg in args):
            # A packed bulk chunk: what Celery writes, without a repr of the whole string.
            return saferepr(args, self._argsrepr_max, maxlevels=self._repr_levels)
        argsrepr = repr(args)
        if len(argsrepr) > self._argsrepr_max:
            argsrepr = argsrepr[: self._argsrepr_max - 3] + "..."
        return argsrepr

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.aclose()

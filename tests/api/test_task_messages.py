"""The messages ``forum.jobqueue.publishing.RedisPublisher`` LPUSHes are those Celery writes
(the worker's task's ``apply_async``, and ``send_task`` by name as the job queue's
``Publisher`` does)."""

import asyncio
import base64
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import redis
from celery import Task

from forum.jobqueue.chunks import pack
from forum.jobqueue.publishing import RedisPublisher
from forum.jobqueue.tasks import APPLY_JOBS, BULK_CHUNK, Publisher, make_celery
from forum.jobqueue.wakeups import Wakeups, kick_key, pending_key
from workers.apply import apply_jobs
from workers.bulk import bulk_chunk
from workers.celery_app import celery_app


def _comparable(raw: bytes) -> dict[str, Any]:
    """The message without what differs between any two messages (ids, origin, the
    publishing app's reply_to)."""
    message = orjson.loads(raw)
    assert base64.b64decode(message["body"]) and message["properties"]["delivery_tag"]
    message["body"] = orjson.loads(base64.b64decode(message.pop("body")))
    for name in ("id", "root_id", "origin"):
        message["headers"].pop(name)
    for name in ("correlation_id", "delivery_tag", "reply_to"):
        message["properties"].pop(name)
    return message


def _celery_message(redis_url: str, queue: str, task: Task, args: list[Any]) -> bytes:
    """What the worker's task writes (its ``apply_async``)."""
    client = redis.Redis.from_url(redis_url)
    try:
        with celery_app.connection_for_write(redis_url) as connection:
            task.apply_async(args=args, queue=queue, connection=connection)
        raw = client.lpop(queue)
    finally:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    assert isinstance(raw, bytes)
    return raw


def _published_by_name(redis_url: str, queue: str, publish: Callable[[Publisher], None]) -> bytes:
    """What a process without the worker's tasks publishes (the API, the CLI)."""
    client = redis.Redis.from_url(redis_url)
    try:
        publish(Publisher(make_celery(redis_url, queue, queue), queue, queue))
        raw = client.lpop(queue)
    finally:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    assert isinstance(raw, bytes)
    return raw


def test_bulk_chunk_message_is_what_celery_apply_async_writes(redis_url: str) -> None:
    queue = f"forumq.test.bulk.message.{uuid.uuid4().hex[:8]}"
    # A packed chunk far longer than argsrepr's limit (Celery shortens it in place).
    items = [(i, {"type": "topic", "external_id": f"t{i}", "content": uuid.uuid4().hex * 4})
             for i in range(400)]  # fmt: skip
    args = [uuid.uuid4().hex, pack(items), 0]
    theirs = _celery_message(redis_url, queue, bulk_chunk, args)
    ours = RedisPublisher(celery_app, redis_url, queue).task_message(BULK_CHUNK, args)
    assert _comparable(ours) == _comparable(theirs)
    assert _comparable(ours)["body"][0] == args
    by_name = _published_by_name(redis_url, queue, lambda p: p.chunk(args[0], args[1]))
    assert _comparable(by_name) == _comparable(theirs)


def test_apply_jobs_message_is_what_celery_apply_async_writes(redis_url: str) -> None:
    queue = f"forumq.test.message.{uuid.uuid4().hex[:8]}"
    ids = [uuid.uuid4().hex, uuid.uuid4().hex]
    theirs = _celery_message(redis_url, queue, apply_jobs, [ids])
    ours = RedisPublisher(celery_app, redis_url, queue).task_message(APPLY_JOBS, [ids])
    assert _comparable(ours) == _comparable(theirs)
    by_name = _published_by_name(redis_url, queue, lambda p: p.jobs(ids))
    assert _comparable(by_name) == _comparable(theirs)


def test_a_wake_up_while_one_is_pending_is_a_kick(redis_url: str) -> None:
    """One wake-up message per queue while its mark is there; later requests kick the
    worker holding it, and once the mark is gone they publish again."""
    queue = f"forumq.test.wakeup.{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    publisher = RedisPublisher(celery_app, redis_url, queue)
    worker = Wakeups(redis_url)
    message = publisher.task_message(APPLY_JOBS, [[]])
    loop = asyncio.new_event_loop()

    def wake() -> None:
        loop.run_until_complete(publisher.wake(message))

    try:
        wake()
        assert client.llen(queue) == 1 and not worker.kicked(queue, 0.01)
        wake()
        wake()
        assert client.llen(queue) == 1  # kicks, not messages
        assert worker.kicked(queue, 0.01) and not worker.kicked(queue, 0.01)  # one at most
        worker.taken(queue)
        wake()
        assert client.llen(queue) == 2
        assert worker.mark(queue) is False  # the publisher's mark is there
    finally:
        loop.run_until_complete(publisher.close())
        loop.close()
        client.delete(queue, pending_key(queue), kick_key(queue))

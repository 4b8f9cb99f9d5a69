"""The messages ``api.task_messages.RedisPublisher`` LPUSHes are those Celery writes."""

import base64
import uuid
from typing import Any

import orjson
import redis
from celery import Task

from api.task_messages import RedisPublisher
from forum.bulk.jobs import pack
from workers.apply import apply_jobs
from workers.bulk import bulk_chunk
from workers.celery_app import celery_app


def _comparable(raw: bytes) -> dict[str, Any]:
    """The message without what differs between any two messages (ids, origin)."""
    message = orjson.loads(raw)
    assert base64.b64decode(message["body"]) and message["properties"]["delivery_tag"]
    message["body"] = orjson.loads(base64.b64decode(message.pop("body")))
    for name in ("id", "root_id", "origin"):
        message["headers"].pop(name)
    for name in ("correlation_id", "delivery_tag"):
        message["properties"].pop(name)
    return message


def _celery_message(redis_url: str, queue: str, task: Task, args: list[Any]) -> bytes:
    client = redis.Redis.from_url(redis_url)
    try:
        with celery_app.connection_for_write(redis_url) as connection:
            task.apply_async(args=args, queue=queue, connection=connection)
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
    ours = RedisPublisher(redis_url, queue).task_message(bulk_chunk, args)
    assert _comparable(ours) == _comparable(theirs)
    assert _comparable(ours)["body"][0] == args


def test_apply_jobs_message_is_what_celery_apply_async_writes(redis_url: str) -> None:
    queue = f"forumq.test.message.{uuid.uuid4().hex[:8]}"
    ids = [uuid.uuid4().hex, uuid.uuid4().hex]
    theirs = _celery_message(redis_url, queue, apply_jobs, [ids])
    ours = RedisPublisher(redis_url, queue).message(ids)
    assert _comparable(ours) == _comparable(theirs)

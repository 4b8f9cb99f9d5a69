"""The completion notice: how workers tell waiting requests that their jobs finished.

With Redis configured, workers publish finished job ids on ``CHANNEL`` and each API
process wakes the matching waiters (``api/waiter.py``); without it (the embedded
default), the API polls the jobs table for the ids it waits on, at once when a worker
rings its doorbell (``broker.Doorbell`` in ``<database file>-done/``, on a SQLite
database). Either way a missed notice only costs the wait: the API reads the job's state
from the database at the end.

A notice carries each finished job's final answer (state, result or error) when it
is small, so a waiting request answers without reading the job back; a notice with
ids only (bulk jobs, big results, polling) sends it to the database as before.
"""

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import redis

from forum.jobqueue import broker

CHANNEL = "forumq:jobs:finished"
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


def doorbells(database_url: str) -> Path | None:
    """Where waiting API processes keep their doorbells, without Redis (a SQLite file's
    ``-done`` directory; None for another database: the API then polls on a timer)."""
    return broker.wake_directory(database_url, "done")


class Notifier:
    """A worker's end: announces finished jobs on Redis, or rings the doorbells of
    ``database_url``'s waiting API processes."""

    def __init__(self, notify_url: str | None, database_url: str = "") -> None:
        self._client = redis.Redis.from_url(notify_url) if notify_url else None
        self._doorbells = None if notify_url or not database_url else doorbells(database_url)

    def job_finished(
        self, job_ids: Iterable[str], answers: dict[str, Answer] | None = None
    ) -> None:
        ids = list(job_ids)
        if not ids:
            return
        if self._client is None:
            broker.ring(self._doorbells)
            return
        try:
            self._client.publish(CHANNEL, encode(ids, answers))
        except redis.RedisError:
            log.warning("could not announce %d finished jobs", len(ids), exc_info=True)

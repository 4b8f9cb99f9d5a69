"""The job queue's Celery tasks, by name, and the Celery configuration every process
shares (the worker that runs the tasks, and every process that publishes them).

A publisher names a task by string: it needs the broker, not the worker's code."""

from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from forum.jobqueue import broker

# ``[job_ids]``: apply these stored jobs (``workers/apply.py``).
APPLY_JOBS = "forumq.apply_jobs"
# ``[job_id, packed, defers]`` or ``[job_id, packed, defers, True]`` (suspect: a worker
# may have died on it): one chunk of a bulk job (``workers/bulk.py``).
BULK_CHUNK = "forumq.bulk_chunk"


def apply_jobs_args(job_ids: Sequence[str]) -> list[Any]:
    return [list(job_ids)]


def bulk_chunk_args(job_id: str, packed: str, defers: int = 0, suspect: bool = False) -> list[Any]:
    return [job_id, packed, defers, True] if suspect else [job_id, packed, defers]


def _queue(name: str) -> Queue:
    # Each queue its own exchange and routing key: a bare Queue(name) gets Celery's
    # default ones, and two queues sharing them would both receive every message.
    return Queue(name, Exchange(name), routing_key=name)


def make_celery(
    broker_url: str, interactive_queue: str, bulk_queue: str, include: Sequence[str] = ()
) -> Celery:
    """The Celery app: ``include`` names the task modules (a worker's); a process that
    only publishes includes none."""
    # The embedded default's SQLite broker is forumq's own transport (``broker``).
    app = Celery("forumq", broker=broker.broker_url(broker_url), include=list(include))
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # results live in the jobs table
        # A message is acknowledged only after its jobs committed; a worker that
        # dies mid-batch leaves it to be redelivered, and the jobs table makes the
        # second delivery a no-op for what was already applied.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=interactive_queue,
        task_queues=[_queue(interactive_queue), _queue(bulk_queue)],
        # Imports never hold up interactive writes: their chunks have their own queue.
        task_routes={BULK_CHUNK: {"queue": bulk_queue}},
        broker_connection_retry_on_startup=True,
        # Fail fast when the broker is down: the API answers 503, never hangs.
        broker_connection_timeout=3,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        worker_hijack_root_logger=False,
    )
    return app


class Publisher:
    """Publishes the job queue's task messages through Celery (any broker), blocking."""

    def __init__(self, app: Celery, interactive_queue: str, bulk_queue: str) -> None:
        self.app = app
        self.interactive_queue = interactive_queue
        self.bulk_queue = bulk_queue

    def jobs(
        self, job_ids: Sequence[str], *, queue: str | None = None, countdown: float | None = None
    ) -> None:
        """One ``forumq.apply_jobs`` message for ``job_ids`` (the interactive queue
        unless ``queue`` names another)."""
        self._send(APPLY_JOBS, apply_jobs_args(job_ids), queue or self.interactive_queue,
                   countdown)  # fmt: skip

    def chunk(
        self,
        job_id: str,
        packed: str,
        *,
        defers: int = 0,
        countdown: float | None = None,
        suspect: bool = False,
    ) -> None:
        """One ``forumq.bulk_chunk`` message (``chunks.pack``) on the bulk queue."""
        args = bulk_chunk_args(job_id, packed, defers, suspect)
        self._send(BULK_CHUNK, args, self.bulk_queue, countdown)

    def _send(self, name: str, args: list[Any], queue: str, countdown: float | None) -> None:
        # ignore_result: what the task's own apply_async sends (task_ignore_result).
        self.app.send_task(name, args=args, queue=queue, countdown=countdown, ignore_result=True)

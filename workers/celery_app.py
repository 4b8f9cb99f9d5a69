"""The Celery application: broker from settings, late acks, one queue per kind of work."""

from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init
from kombu import Exchange, Queue

from forumq.runtime import tune_gc
from forumq.settings import get_settings
from workers import broker


def _queue(name: str) -> Queue:
    # Each queue its own exchange and routing key: a bare Queue(name) gets Celery's
    # default ones, and two queues sharing them would both receive every message.
    return Queue(name, Exchange(name), routing_key=name)


def make_celery() -> Celery:
    settings = get_settings()
    include = ["workers.apply", "workers.sweeper", "workers.bulk"]
    # The embedded default polls its SQLite queue every few ms while busy (workers.broker).
    app = Celery("forumq", broker=broker.broker_url(settings.broker_url), include=include)
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
        task_default_queue=settings.interactive_queue,
        task_queues=[_queue(settings.interactive_queue), _queue(settings.bulk_queue)],
        # Imports never hold up interactive writes: their chunks have their own queue.
        task_routes={"forumq.bulk_chunk": {"queue": settings.bulk_queue}},
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


celery_app = make_celery()


@worker_init.connect
@worker_process_init.connect
def _tune_gc(**_: Any) -> None:
    # In the main process (solo and thread pools) and in each prefork child.
    tune_gc()

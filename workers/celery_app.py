"""The worker's composition: its Celery application (``forum.jobqueue.tasks``'
configuration, broker and queues from settings) with the task modules, the publisher
of task messages and the notifier of finished jobs."""

import logging
from typing import Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    worker_init,
    worker_process_init,
)

from forum.jobqueue.notices import Notifier
from forum.jobqueue.publishing import redis_broker_url
from forum.jobqueue.tasks import Publisher, make_celery
from forum.jobqueue.wakeups import Wakeups
from forumq.logs import use_format
from forumq.runtime import tune_gc
from forumq.settings import get_settings

_settings = get_settings()
celery_app = make_celery(
    _settings.broker_url,
    _settings.interactive_queue,
    _settings.bulk_queue,
    include=["workers.apply", "workers.sweeper", "workers.bulk"],
)
publisher = Publisher(celery_app, _settings.interactive_queue, _settings.bulk_queue)
notifier = Notifier(_settings.resolved_notify_url, _settings.database_url)
wakeups = Wakeups(redis_broker_url(celery_app))


@after_setup_logger.connect
@after_setup_task_logger.connect
def _log_format(logger: logging.Logger, **_: Any) -> None:
    # FORUMQ_LOG_FORMAT=json: Celery's lines and forumq's (job id, kind, error) as JSON.
    use_format(get_settings().log_format, logger.handlers)


@worker_init.connect
@worker_process_init.connect
def _tune_gc(**_: Any) -> None:
    # In the main process (solo and thread pools) and in each prefork child.
    tune_gc()

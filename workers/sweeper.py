"""The sweeper thread in each worker's main process: ``forum.jobqueue.sweep`` every
``sweep_interval_seconds``, from the worker's ready signal to its shutdown."""

import logging
import threading

from celery.signals import worker_ready, worker_shutdown
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.exc import DBAPIError

from forum.jobqueue.sweep import Sweeper, SweepPolicy
from forumq.problems import one_line
from forumq.settings import Settings, get_settings
from workers.celery_app import publisher

log = logging.getLogger(__name__)
_stop = threading.Event()


def sweeper(settings: Settings) -> Sweeper:
    policy = SweepPolicy(
        stale_after_seconds=settings.stale_after_seconds,
        bulk_stale_after_seconds=settings.bulk_stale_after_seconds,
        idempotency_retention_hours=settings.idempotency_retention_hours,
        job_retention_hours=settings.job_retention_hours,
        batch_max_jobs=settings.batch_max_jobs,
    )
    return Sweeper(settings.database_url, publisher, policy)


def _run() -> None:
    settings = get_settings()
    sweep = sweeper(settings)
    while not _stop.wait(settings.sweep_interval_seconds):
        try:
            sweep.sweep_once()
        except (DBAPIError, OSError, KombuOperationalError) as exc:
            # The database or broker is down: one line a round, not a traceback.
            log.warning("sweep failed, next try in %gs: %s", settings.sweep_interval_seconds,
                        one_line(exc))  # fmt: skip
        except Exception:
            log.exception("sweep failed")


@worker_ready.connect
def _start(**_: object) -> None:
    _stop.clear()
    threading.Thread(target=_run, name="forumq-sweeper", daemon=True).start()


@worker_shutdown.connect
def _shutdown(**_: object) -> None:
    _stop.set()

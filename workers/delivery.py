"""How the worker's tasks (``apply_jobs``, ``bulk_chunk``) treat what goes wrong while
they apply: which errors are transient (the whole delivery is retried, with backoff, up
to ``MAX_RETRIES`` times), and what error a job or an imported item records when its
own command or data is at fault (it fails alone; the rest of its batch goes on).
Deliveries that die (a worker killed) are counted where the jobs are: a claim counts
each job's (``forum.jobqueue.claims``), a bulk chunk's deaths are counted per chunk
(``forum.jobqueue.chunks.count_crash``); both fail after ``max_attempts``.
"""

import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from forum.errors import ErrorClass, ForumError, error_record

log = logging.getLogger(__name__)
# Connection lost, deadlock, serialization failure: worth retrying the whole delivery.
TRANSIENT = (OperationalError, InterfaceError)
MAX_RETRIES = 10


def backoff(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: 0.25 s, doubling, up to 30 s."""
    return float(min(2**retries * 0.25, 30))


def failure(what: str, exc: Exception) -> dict[str, Any]:
    """The error ``what`` (a job, an imported item) records for ``exc``, raised by its
    own command or data (never a ``TRANSIENT`` one)."""
    if isinstance(exc, ForumError):
        return exc.record()
    if isinstance(exc, ValidationError):
        return error_record(ErrorClass.BAD_REQUEST, "invalid-data", str(exc))
    if isinstance(exc, IntegrityError):
        # A unique key taken, or a row it refers to removed, by a concurrent write.
        log.info("%s conflicted: %s", what, exc.orig)
        return error_record(ErrorClass.BAD_REQUEST, "conflict", "[[error:conflict]]")
    if isinstance(exc, DBAPIError):
        # The database refused the data (a value too long, a NUL in text, ...).
        log.warning("%s refused by the database: %s", what, exc.orig)
        return error_record(ErrorClass.BAD_REQUEST, "invalid-data", "[[error:invalid-data]]")
    log.error("%s raised", what, exc_info=exc)
    return error_record(ErrorClass.INTERNAL, "internal-server-error", "[[error:internal]]")

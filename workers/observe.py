"""What a worker tells operators about the work it finished: one log line per failed job,
one per batch, and Prometheus metrics.

Metrics are multiprocess-safe: ``forumq worker --metrics-port`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before anything imports
prometheus-client, each prefork child writes its samples there, and the worker's main
process serves their sum."""

import logging
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram

log = logging.getLogger("forumq.jobs")

JOBS_APPLIED = Counter(
    "forumq_jobs_applied_total", "Jobs a worker applied successfully", ["kind", "queue"]
)
JOBS_FAILED = Counter(
    "forumq_jobs_failed_total", "Jobs a worker finished failed", ["kind", "queue", "error"]
)
BATCH_SECONDS = Histogram(
    "forumq_apply_seconds", "Time a worker took to apply one message (a batch of jobs)",
    ["queue"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
JOB_LATENCY = Histogram(
    "forumq_job_latency_seconds", "From a job's acceptance to its final state",
    ["queue"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)  # fmt: skip
BATCH_JOBS = Histogram(
    "forumq_batch_jobs", "Jobs per applied message", ["queue"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)  # fmt: skip
CHUNK_ITEMS = Histogram(
    "forumq_bulk_chunk_items", "Bulk items per applied chunk",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
)  # fmt: skip


@dataclass(frozen=True)
class Finished:
    """A job in its final state, as the logs and metrics need it."""

    id: str
    kind: str
    actor_uid: int
    state: str
    error: str | None  # the error's key (``content-too-short``), None if it succeeded
    created_at: int  # ms
    finished_at: int  # ms
    request_id: str | None = None  # the API request that stored it (X-Request-ID)

    @classmethod
    def of(cls, job: Any) -> "Finished":
        error = (job.error or {}).get("key") if job.state == "failed" else None
        return cls(job.id, job.kind, job.actor_uid, job.state, error, job.created_at,
                   job.finished_at or job.created_at, job.request_id)  # fmt: skip


def batch_finished(queue: str, jobs: Sequence[Finished], seconds: float) -> None:
    """Log and count one applied message: a line per failed job, one for the batch."""
    BATCH_SECONDS.labels(queue).observe(seconds)
    BATCH_JOBS.labels(queue).observe(len(jobs))
    for job in jobs:
        JOB_LATENCY.labels(queue).observe(max(job.finished_at - job.created_at, 0) / 1000)
        if job.error is None:
            JOBS_APPLIED.labels(job.kind, queue).inc()
            continue
        JOBS_FAILED.labels(job.kind, queue, job.error).inc()
        log.warning(
            "job %s failed: %s (kind %s, actor %s, request %s)", job.id, job.error, job.kind,
            job.actor_uid, job.request_id,
            extra={"job_id": job.id, "request_id": job.request_id, "kind": job.kind,
                   "error": job.error, "actor_uid": job.actor_uid, "queue": queue},
        )  # fmt: skip
    failed = Tally(job.error for job in jobs if job.error is not None)
    by_error = ", ".join(f"{key} {n}" for key, n in failed.most_common())
    log.info(
        "batch on %s: %d jobs, %d failed%s in %.3fs", queue, len(jobs), failed.total(),
        f" ({by_error})" if by_error else "", seconds,
        extra={"job_ids": [job.id for job in jobs], "queue": queue, "failed": failed.total()},
    )  # fmt: skip


def chunk_finished(
    job_id: str, request_id: str | None, applied: int, deferred: int, seconds: float
) -> None:
    """Log and count one applied bulk chunk (its items' failures are in the job's items)."""
    CHUNK_ITEMS.observe(applied)
    log.info(
        "bulk chunk of job %s (request %s): %d items applied, %d deferred, in %.3fs",
        job_id, request_id, applied, deferred, seconds,
        extra={"job_id": job_id, "request_id": request_id},
    )  # fmt: skip


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """The sum of this worker's processes' samples on ``http://host:port/metrics``."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, host, registry=registry)

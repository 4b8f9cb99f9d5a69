"""Prometheus metrics (``GET /metrics``): what this API process accepted, and the
job backlog as the database sees it (the same figure from every process)."""

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from forum.clock import now_ms
from forum.db import session_factory
from forum.jobqueue import chunks, store
from forum.models import Job
from forumq.settings import Settings

JOBS_ACCEPTED = Counter("forumq_jobs_accepted_total", "Jobs stored and enqueued", ["kind"])
ACCEPT_GROUP_SIZE = Histogram(
    "forumq_accept_group_size", "Jobs stored per transaction and broker message",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)  # fmt: skip
REQUESTS = Counter("forumq_http_errors_total", "Refused requests", ["router", "status"])


class BacklogCollector(Collector):
    """Unfinished jobs by state, and the age of the oldest on each queue, read at scrape
    time (indexed by state and creation time). The age is what to scale workers on: it
    grows when jobs arrive faster than the workers finish them."""

    def __init__(self) -> None:
        self.settings: Settings | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.settings is None:
            return
        unfinished = GaugeMetricFamily(
            "forumq_jobs_unfinished", "Jobs not yet finished", labels=["state"]
        )
        oldest = GaugeMetricFamily(
            "forumq_oldest_unfinished_job_age_seconds",
            "Age of the oldest job not yet finished (0 when none is)", labels=["queue"],
        )  # fmt: skip
        counts_query = (
            select(Job.state, func.count())
            .where(Job.state.in_(store.UNFINISHED))
            .group_by(Job.state)
        )
        pending = select(func.min(Job.created_at)).where(Job.state.in_(store.UNFINISHED))
        queues = {
            self.settings.interactive_queue: pending.where(Job.kind != chunks.KIND),
            self.settings.bulk_queue: pending.where(Job.kind == chunks.KIND),
        }
        with session_factory(self.settings.database_url)() as session:
            counts: dict[str, int] = dict(session.execute(counts_query).tuples().all())
            created = {queue: session.scalar(query) for queue, query in queues.items()}
        for state in store.UNFINISHED:
            unfinished.add_metric([state], counts.get(state, 0))
        now = now_ms()
        for queue, at in created.items():
            oldest.add_metric([queue], max(now - at, 0) / 1000 if at is not None else 0)
        yield unfinished
        yield oldest


BACKLOG = BacklogCollector()
REGISTRY.register(BACKLOG)


async def metrics(request: Request) -> Response:
    BACKLOG.settings = request.app.state.settings
    body = await run_in_threadpool(generate_latest)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

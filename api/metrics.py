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

from forum.db import session_factory
from forum.jobqueue import store
from forum.models import Job

JOBS_ACCEPTED = Counter("forumq_jobs_accepted_total", "Jobs stored and enqueued", ["kind"])
ACCEPT_GROUP_SIZE = Histogram(
    "forumq_accept_group_size", "Jobs stored per transaction and broker message",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)  # fmt: skip
REQUESTS = Counter("forumq_http_errors_total", "Refused requests", ["router", "status"])


class BacklogCollector(Collector):
    """Unfinished jobs by state, read at scrape time (an indexed count)."""

    def __init__(self) -> None:
        self.database_url: str | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.database_url is None:
            return
        gauge = GaugeMetricFamily(
            "forumq_jobs_unfinished", "Jobs not yet finished", labels=["state"]
        )
        query = (
            select(Job.state, func.count())
            .where(Job.state.in_(store.UNFINISHED))
            .group_by(Job.state)
        )
        with session_factory(self.database_url)() as session:
            counts: dict[str, int] = dict(session.execute(query).tuples().all())
        for state in store.UNFINISHED:
            gauge.add_metric([state], counts.get(state, 0))
        yield gauge


BACKLOG = BacklogCollector()
REGISTRY.register(BACKLOG)


async def metrics(request: Request) -> Response:
    BACKLOG.database_url = request.app.state.settings.database_url
    body = await run_in_threadpool(generate_latest)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

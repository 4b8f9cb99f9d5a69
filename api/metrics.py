"""Prometheus metrics of the API process (``GET /metrics``)."""

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

JOBS_ACCEPTED = Counter("forumq_jobs_accepted_total", "Jobs stored and enqueued", ["kind"])
ACCEPT_GROUP_SIZE = Histogram(
    "forumq_accept_group_size", "Jobs stored per transaction and broker message",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)  # fmt: skip
REQUESTS = Counter("forumq_http_responses_total", "HTTP responses", ["router", "status"])


async def metrics(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

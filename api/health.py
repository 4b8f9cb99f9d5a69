"""``GET /api/health`` (liveness: the process answers and reaches its database) and
``GET /api/ready`` (readiness: it can accept writes — database reachable, schema at
the migrations' head, broker reachable; 503 naming what is not)."""

from typing import Any

from kombu import Connection
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.envelopes import JSONResponse
from forum.db import engine_for
from forum.jobqueue.broker import broker_url
from forum.migrate import current_revision, head_revision
from forumq.problems import one_line
from forumq.settings import Settings

BROKER_TIMEOUT_SECONDS = 2.0


async def health(request: Request) -> Response:
    def check() -> None:
        with engine_for(request.app.state.settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(check)
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": one_line(exc)}, 503)
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    report = await run_in_threadpool(readiness, request.app.state.settings)
    ready = all(check["ok"] for check in report.values())
    status = {"status": "ready" if ready else "unavailable", "checks": report}
    return JSONResponse(status, 200 if ready else 503)


def readiness(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each check: ``ok`` and, when not, the ``reason``."""
    report: dict[str, dict[str, Any]] = {}
    head = head_revision()
    try:
        revision = current_revision(settings.database_url)
    except Exception as exc:
        report["database"] = {"ok": False, "reason": one_line(exc)}
        report["migrations"] = {"ok": False, "reason": "database unreachable", "head": head}
    else:
        report["database"] = {"ok": True}
        report["migrations"] = {"ok": revision == head, "revision": revision, "head": head}
        if revision != head:
            report["migrations"]["reason"] = f"at {revision or 'no revision'}: run forumq migrate"
    try:
        with Connection(
            broker_url(settings.broker_url), connect_timeout=BROKER_TIMEOUT_SECONDS
        ) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        report["broker"] = {"ok": True}
    except Exception as exc:
        report["broker"] = {"ok": False, "reason": one_line(exc)}
    return report


routes = [
    Route("/api/health", health, methods=["GET"]),
    Route("/api/ready", ready, methods=["GET"]),
]

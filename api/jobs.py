"""``GET /api/jobs/{job_id}``: a job's state and final answer (actor or admin only)."""

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import bulk, envelopes
from api.errors import ApiError, bad_request, not_found
from api.prefer import parse_prefer, wait_seconds
from api.routing import route
from api.writes import authenticated, job_view
from forum.db import session_factory
from forum.jobqueue import store
from forum.models import Job

# Job ids are uuid4 hex; anything else names no job (and "\x00" would upset PostgreSQL).
_JOB_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def _load(database_url: str, job_id: str) -> Job | None:
    if not _JOB_ID.fullmatch(job_id):
        return None
    with session_factory(database_url)() as session:
        return store.get(session, job_id, command=False)


async def get_job(request: Request) -> Response:
    write = await authenticated(request)
    state = request.app.state
    job_id = request.path_params["job_id"]
    preference = parse_prefer(request.headers.get("prefer"))
    timeout = wait_seconds(preference, 0.0, state.settings.max_wait)
    # Expect the finish notice before reading the job: a job finishing between the read
    # and the registration would otherwise notify nobody, and the wait run its full time.
    finished = state.waiter.expect(job_id) if timeout > 0 else None
    try:
        job = await run_in_threadpool(_load, state.settings.database_url, job_id)
        if job is None or not (write.principal.is_admin or job.actor_uid == write.principal.uid):
            raise not_found()
        if finished is not None and job.state in store.UNFINISHED:
            await state.waiter.wait(job_id, timeout, finished)
            job = await run_in_threadpool(_load, state.settings.database_url, job_id) or job
    finally:
        if finished is not None:
            state.waiter.forget(job_id, finished)
    return envelopes.success(job.router, job_view(job))


async def list_jobs(request: Request) -> Response:
    """Admins list jobs, e.g. ``?state=failed`` to find what needs a retry."""
    write = await authenticated(request)
    if not write.principal.is_admin:
        raise ApiError(403, "forbidden")
    state = request.query_params.get("state") or None
    if state is not None and state not in store.STATES:
        raise bad_request(f"state must be one of {', '.join(store.STATES)}", ["state"])
    offset = _bounded_int(request, "offset", 0, 0, 10**9)
    limit = _bounded_int(request, "limit", 50, 1, 500)

    def load() -> list[dict[str, object]]:
        with session_factory(request.app.state.settings.database_url)() as session:
            return [job_view(job) for job in store.list_jobs(session, state, offset, limit)]

    found = await run_in_threadpool(load)
    return envelopes.success(write.router, {"jobs": found, "offset": offset, "limit": limit})


def _bounded_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise bad_request(f"{name} must be an integer from {low} to {high}", [name])
    return int(raw)


routes = [
    route("GET", "/api/jobs", list_jobs, "List jobs (admins)", queued=False, errors=(403,)),
    route("GET", "/api/jobs/{job_id}", get_job, "A job's state and final answer", queued=False),
    route(
        "GET",
        "/api/jobs/{job_id}/items",
        bulk.job_items,
        "A bulk job's per-item results",
        queued=False,
    ),
]

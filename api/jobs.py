"""``GET /api/jobs/{job_id}``: a job's state and final answer (actor or admin only)."""

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import envelopes
from api.errors import not_found
from api.prefer import parse_prefer, wait_seconds
from api.writes import authenticated, job_view
from forum import jobs
from forum.db import session_factory
from forum.models import Job


def _load(database_url: str, job_id: str) -> Job | None:
    with session_factory(database_url)() as session:
        return jobs.get(session, job_id)


async def get_job(request: Request) -> Response:
    write = await authenticated(request)
    state = request.app.state
    job_id = request.path_params["job_id"]
    job = await run_in_threadpool(_load, state.settings.database_url, job_id)
    if job is None or not (write.principal.is_admin or job.actor_uid == write.principal.uid):
        raise not_found()
    preference = parse_prefer(request.headers.get("prefer"))
    timeout = wait_seconds(preference, 0.0, state.settings.max_wait)
    if job.state in jobs.UNFINISHED and timeout > 0:
        finished = state.waiter.expect(job_id)
        try:
            await asyncio.wait_for(asyncio.shield(finished), timeout)
        except TimeoutError:
            pass
        finally:
            state.waiter.forget(job_id, finished)
        job = await run_in_threadpool(_load, state.settings.database_url, job_id) or job
    return envelopes.success(job.router, job_view(job))


routes = [Route("/{job_id}", get_job, methods=["GET"])]

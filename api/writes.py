"""The write pipeline every write route shares: idempotency, store + enqueue, wait,
answer (the final result, or 202 with the job)."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import answers, envelopes, maintenance
from api.auth import Principal
from api.errors import ApiError
from api.inputs import Body, build_command, header, read_body
from api.prefer import parse_prefer, wait_seconds
from api.routing import DocumentedRoute
from forum.db import session_factory
from forum.jobqueue import store
from forum.jobqueue.store import DuplicateKey, new_job, new_job_id
from forum.models import Job
from forumq.logs import REQUEST_ID
from schemas import Command, dump_command

MAX_IDEMPOTENCY_KEY = 255


@dataclass
class WriteRequest:
    """An authenticated write: who, through which router, with which parameters."""

    request: Request
    router: str
    principal: Principal
    body: Body

    def command(self, model: type[Command], **trusted: Any) -> Command:
        return build_command(model, self.body, **trusted)


def job_location(job_id: str) -> str:
    return f"/api/jobs/{job_id}"


def job_view(job: Job) -> dict[str, Any]:
    """The job as ``GET /api/jobs/{id}`` shows it, in its router's terms."""
    view: dict[str, Any] = {
        "id": job.id,
        "state": job.state,
        "kind": job.kind,
        **store.job_times(job),
        "attempts": job.attempts,
        "progress": job.progress,  # bulk jobs: {done, failed, total}; None otherwise
        "result": None,
        "error": None,
    }
    if job.state == store.SUCCEEDED:
        view["status_code"] = 200
        view["result"] = envelopes.success_body(
            job.router, answers.payload(job.router, job.kind, job.result)
        )
    elif job.state == store.FAILED and job.error:
        status, body = envelopes.forum_error_body(job.router, job.error)
        view["status_code"] = status
        view["error"] = body
    return view


def accepted(job: Job | dict[str, Any], router: str, extra: dict[str, Any] | None) -> Response:
    job_id = job.id if isinstance(job, Job) else job["id"]
    state = job.state if isinstance(job, Job) else job["state"]
    payload = {"job_id": job_id, "state": state, "links": {"self": job_location(job_id)}}
    if router == envelopes.V3:
        payload["queued"] = True  # as core answers for a post held in its queue
    headers = {
        "Location": job_location(job_id),
        "Retry-After": "1",
        "Preference-Applied": "respond-async",
    }
    return envelopes.success(router, {**payload, **(extra or {})}, 202, headers)


def final_answer(job: Job, extra: dict[str, Any] | None) -> Response:
    return rendered_answer(job.router, job.kind, job.state, job.result, job.error, extra)


def rendered_answer(
    router: str,
    kind: str,
    state: str,
    result: Any,
    error: dict[str, Any] | None,
    extra: dict[str, Any] | None,
) -> Response:
    """A finished job's answer, from the job row or from its completion notice."""
    if state == store.SUCCEEDED:
        payload = answers.payload(router, kind, result)
        if extra and isinstance(payload, dict):
            payload = {**payload, **extra}
        return envelopes.success(router, payload)
    status, body = envelopes.forum_error_body(router, error or {})
    return envelopes.JSONResponse(body, status)


def fingerprint_digest(request: Request) -> "hashlib._Hash":
    """The fingerprint of a request whose raw body is fed to it as it arrives (a bulk
    upload): ``request_fingerprint`` of the whole body, without holding it."""
    return hashlib.sha256(orjson.dumps([request.method, request.url.path]))


def request_fingerprint(request: Request, body: Body | bytes | bytearray) -> str:
    """What "the same request" means for an Idempotency-Key: method, path and body
    (parsed parameters, or the raw bytes of a bulk upload)."""
    if isinstance(body, bytes | bytearray):
        digest = fingerprint_digest(request)
        digest.update(body)
        return digest.hexdigest()
    canonical = orjson.dumps(
        [request.method, request.url.path, body],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def idempotency_key(request: Request) -> str | None:
    key = header(request, "idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(400, "bad-request", "Idempotency-Key must be 1-255 characters.")
    return key or None


class Writes:
    def __init__(self, app_state: Any) -> None:
        self._state = app_state
        settings = app_state.settings
        self._sessions = session_factory(settings.database_url)
        self._max_wait = settings.max_wait

    def _load(self, job_id: str) -> Job | None:
        with self._sessions() as session:
            return store.get(session, job_id, command=False)

    def _by_key(self, uid: int, key: str) -> Job | None:
        with self._sessions() as session:
            return store.by_idempotency_key(session, uid, key, command=False)

    async def known_key(self, uid: int, key: str) -> bool:
        """Whether ``uid`` used Idempotency-Key ``key`` before (a retry, most likely)."""
        return await run_in_threadpool(self._by_key, uid, key) is not None

    async def submit(
        self, write: WriteRequest, command: Command, extra: dict[str, Any] | None = None
    ) -> Response:
        """Store ``command`` as a job for ``write``'s actor and answer the client.

        ``extra`` is merged into the answer only (never stored): the token route uses
        it to show a new secret once."""
        key, fingerprint, replay = await self.idempotency(write, write.body)
        if replay is not None:
            return replay
        row = new_job(new_job_id(), command.kind, write.router, write.principal.uid,
                      dump_command(command), idempotency_key=key, request_hash=fingerprint,
                      ordering_key=command.ordering_key(),
                      request_id=REQUEST_ID.get())  # fmt: skip
        return await self.accept(write, row, self._state.submitter.submit, extra)

    async def idempotency(
        self,
        write: WriteRequest,
        body: Body | bytes | bytearray | None = None,
        *,
        digest: "hashlib._Hash | None" = None,
    ) -> tuple[str | None, str | None, Response | None]:
        """The request's Idempotency-Key, its fingerprint (of ``body``, or the
        ``fingerprint_digest`` it was fed), and the answer to replay if an earlier
        request used the key (None for both without a key)."""
        key = idempotency_key(write.request)
        if key is None:
            return None, None, None
        if digest is not None:
            fingerprint = digest.hexdigest()
        else:
            fingerprint = request_fingerprint(write.request, {} if body is None else body)
        replay = await self.replay(write.request, write.principal.uid, key, fingerprint,
                                   write.router)  # fmt: skip
        return key, fingerprint, replay

    async def accept(
        self,
        write: WriteRequest,
        row: dict[str, Any],
        enqueue: Callable[[dict[str, Any], bool], Awaitable[None]],
        extra: dict[str, Any] | None = None,
    ) -> Response:
        """Store and publish the job ``row`` with ``enqueue(row, durable)``, then answer.

        Every write route's accept path: a concurrent request holding the same
        Idempotency-Key gets the first one's answer (409 while it runs)."""
        request, waiter = write.request, self._state.waiter
        timeout = self._timeout(request)
        # Only a client that waits needs the finish notice (respond-async answers 202 now).
        finished = waiter.expect(row["id"]) if timeout > 0 else None
        durable = finished is None
        try:
            await enqueue(row, durable)
        except DuplicateKey:
            if finished is not None:
                waiter.forget(row["id"], finished)
            replay = await self.replay(request, write.principal.uid, row["idempotency_key"],
                                       row["request_hash"], write.router)  # fmt: skip
            if replay is None:  # the other request's job was withdrawn meanwhile
                raise ApiError(409, "conflict") from None
            return replay
        except BaseException:
            if finished is not None:
                waiter.forget(row["id"], finished)
            raise
        return await self._answer(request, row, write.router, extra, finished, timeout,
                                  durable=durable)  # fmt: skip

    def _timeout(self, request: Request) -> float:
        """How long this request waits for its job, as its ``Prefer`` header asks."""
        prefer = parse_prefer(header(request, "prefer"))
        return wait_seconds(prefer, self._max_wait, self._max_wait)

    async def replay(
        self, request: Request, uid: int, key: str, fingerprint: str | None, router: str
    ) -> Response | None:
        """The answer to a retry of an earlier request with this key, or None when the
        key is new (422 for another body, 409 while the first is unfinished). A replay
        never shows a secret minted for this attempt."""
        job = await self._replay(uid, key, fingerprint, router)
        return None if job is None else await self._answer(request, job, router, None)

    async def _replay(self, uid: int, key: str, fingerprint: str | None, router: str) -> Job | None:
        job = await run_in_threadpool(self._by_key, uid, key)
        if job is None:
            return None
        if job.request_hash != fingerprint:
            raise ApiError(422, "idempotency-key-reused")
        if job.state in store.UNFINISHED:
            location = {"Location": job_location(job.id), "Retry-After": "1"}
            raise ApiError(409, "conflict", params={"job_id": job.id}, headers=location)
        return job

    async def _answer(
        self,
        request: Request,
        job: Job | dict[str, Any],
        router: str,
        extra: dict[str, Any] | None,
        finished: asyncio.Future[None] | None = None,
        timeout: float | None = None,
        *,
        durable: bool = True,
    ) -> Response:
        """The final answer, or 202 with the job; a job not ``durable`` yet (stored for
        a waiting caller) is flushed before a 202 promises it."""
        if isinstance(job, Job) and job.state not in store.UNFINISHED:
            return final_answer(job, extra)
        job_id = job.id if isinstance(job, Job) else job["id"]
        if timeout is None:
            timeout = self._timeout(request)
        if timeout > 0:
            notice = await self._state.waiter.wait(job_id, timeout, finished)
            if notice is not None and notice.get("state") in (store.SUCCEEDED, store.FAILED):
                # The worker's notice carried the final answer: no need to read it back.
                kind = job.kind if isinstance(job, Job) else job["kind"]
                return rendered_answer(
                    router, kind, notice["state"], notice.get("result"), notice.get("error"), extra
                )
            stored = await run_in_threadpool(self._load, job_id)
            if stored is not None and stored.state not in store.UNFINISHED:
                return final_answer(stored, extra)
            if stored is not None:
                job = stored
        elif finished is not None:
            self._state.waiter.forget(job_id, finished)
        if not durable:
            await self._state.submitter.flush()
        return accepted(job, router, extra)


async def authenticated(request: Request, *, streamed: bool = False) -> WriteRequest:
    """Read the body and authenticate the caller of a write route.

    A ``streamed`` route (uploads) reads its own body afterwards: its caller is
    authenticated from the headers and the query alone, before a byte is stored."""
    state = request.app.state
    body = {} if streamed else await read_body(request, state.settings.max_body_bytes)
    principal, params = await state.auth.authenticate(request, body)
    await maintenance.refuse_writes(request, principal)
    route = request.scope.get("route")
    if isinstance(route, DocumentedRoute) and route.doc.auth == "admin" and not principal.is_admin:
        # The plugin's requireAdmin answers before any parameter is checked; the
        # worker checks again against the database, so a stale cache grants nothing.
        raise ApiError(403, "forbidden", key="no-privileges")
    # scope["path"] is request.url.path without building the URL (the router is its prefix).
    return WriteRequest(request, envelopes.router_of(request.scope["path"]), principal, params)


async def submit(
    write: WriteRequest, command: Command, extra: dict[str, Any] | None = None
) -> Response:
    writes: Writes = write.request.app.state.writes
    return await writes.submit(write, command, extra)

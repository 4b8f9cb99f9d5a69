"""``POST /api/v2/bulk``: one request, thousands of imported writes (admins only).

The body is a JSON array of items, or NDJSON (``Content-Type: application/x-ndjson``).
The API validates every item, once (a bad one becomes a failed item in place, with
its line number, never a failed request), stores ONE ``bulk.import`` job holding the
items in packed chunks, and publishes one message per chunk to the bulk queue; the
worker trusts those dumps. The answer is the
job, as for every write (202, or the final answer with ``Prefer: wait=N``).
"""

import re
import time
import uuid
from typing import Any

import orjson
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.errors import ApiError, bad_request, not_found, unavailable
from api.job_store import DuplicateKey
from api.routing import DocumentedRoute, route
from api.task_messages import RedisPublisher, redis_broker_url
from api.writes import Writes, authenticated, idempotency_key, request_fingerprint
from forum import jobs
from forum.bulk import jobs as bulk_jobs
from forum.bulk.jobs import pack
from forum.db import session_factory, transaction
from forum.errors import ForumError
from forum.models import Job
from forum.passwords import hash_password
from forum.users import check_password
from forumq.settings import Settings
from schemas.bulk import NUL_ESCAPE, BulkImport, invalid, parse_item, parse_line, without_nul
from workers import bulk as bulk_worker

NDJSON = "application/x-ndjson"
JOB_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
MAX_PAGE = 1000


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload-too-large", params={"limit_bytes": limit})
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(413, "payload-too-large", params={"limit_bytes": limit})
    return bytes(raw)


def _too_many(count: int, limit: int) -> ApiError:
    message = f"At most {limit} items per request; this one has {count}."
    return ApiError(413, "payload-too-large", message, {"limit": limit, "items": count})


def parse_items(raw: bytes, media_type: str, limit: int) -> list[dict[str, Any]]:
    """The request's items as stored: valid items as validated, bad ones as invalid
    markers (each validated once, here; the worker trusts them)."""
    if media_type == NDJSON:
        lines = [(n, line) for n, line in enumerate(raw.split(b"\n"), 1) if line.strip()]
        if len(lines) > limit:
            raise _too_many(len(lines), limit)
        return [parse_line(line, n) for n, line in lines]
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request(
            "The request body is not valid JSON (send an array, or NDJSON)."
        ) from None
    if not isinstance(body, list):
        raise bad_request("The request body must be a JSON array of items, or NDJSON.")
    if len(body) > limit:
        raise _too_many(len(body), limit)
    if NUL_ESCAPE in raw:
        return [without_nul(parse_item(item)) for item in body]
    return [parse_item(item) for item in body]


def hash_passwords(items: list[dict[str, Any]]) -> None:
    """No password is stored or queued: a user item's is checked and replaced by its
    hash here (the worker stores the hash); a refused one fails alone, in place."""
    for index, item in enumerate(items):
        if item["type"] != "user" or item.get("password") is None:
            continue
        password = item.pop("password")
        try:
            check_password(password)
        except ForumError as exc:
            items[index] = invalid(exc.key, exc.args_, data=item)
            continue
        item["password_hash"] = hash_password(password)


def _pack_chunks(items: list[dict[str, Any]], size: int) -> list[str]:
    return [
        pack(enumerate(items[start : start + size], start)) for start in range(0, len(items), size)
    ]


def _store(settings: Settings, row: dict[str, Any]) -> None:
    try:
        with transaction(settings.database_url) as session:
            jobs.insert_jobs(session, [row])
    except IntegrityError:
        raise DuplicateKey from None  # a concurrent request holds the Idempotency-Key


def _withdraw(settings: Settings, job_id: str) -> None:
    with transaction(settings.database_url) as session:
        session.execute(delete(Job).where(Job.id == job_id))


def _publish_with_celery(job_id: str, chunks: list[str]) -> None:
    for packed in chunks:
        bulk_worker.publish(job_id, packed)


def _bulk_publisher(request: Request) -> RedisPublisher | None:
    """The app's publisher for the bulk queue on a plain Redis broker (None: another
    broker). Made on first use and kept for the app's life: a connection per request
    would cost more than the LPUSH of its chunk."""
    state = request.app.state
    publisher: RedisPublisher | None = getattr(state, "bulk_publisher", None)
    if publisher is None:
        broker_url = redis_broker_url()
        if broker_url is None:
            return None
        publisher = state.bulk_publisher = RedisPublisher(broker_url, state.settings.bulk_queue)
    return publisher


async def _publish(request: Request, job_id: str, chunks: list[str]) -> None:
    """One ``forumq.bulk_chunk`` message per chunk on the bulk queue.

    On a plain Redis broker, LPUSHed from the event loop: the message ``apply_async``
    writes, without kombu encoding the packed chunk twice, its producer pool, signals
    and a thread (2.4 -> 0.7 ms of CPU per 10,000-item chunk). Other brokers go
    through Celery."""
    publisher = _bulk_publisher(request)
    if publisher is None:
        await run_in_threadpool(_publish_with_celery, job_id, chunks)
        return
    for packed in chunks:
        await publisher.push(publisher.task_message(bulk_worker.bulk_chunk, [job_id, packed, 0]))


async def _store_and_publish(request: Request, settings: Settings, row: dict[str, Any]) -> None:
    await run_in_threadpool(_store, settings, row)
    try:
        await _publish(request, row["id"], row["command"]["chunks"])
    except Exception as exc:
        # Chunks already published find no job and do nothing; a retried request is
        # safe anyway (its external ids are recognised).
        await run_in_threadpool(_withdraw, settings, row["id"])
        raise unavailable("The message broker is unreachable.") from exc


async def bulk_import(request: Request) -> Response:
    # Authenticated from the headers and query (a master token's _uid goes in the
    # query string) before the body is read: a refused import costs no upload.
    write = await authenticated(request, streamed=True)
    if not write.principal.is_admin:
        raise ApiError(403, "forbidden")
    state = request.app.state
    settings: Settings = state.settings
    writes: Writes = state.writes
    key = idempotency_key(request)
    raw = await _read(request, settings.bulk_max_bytes)
    fingerprint = request_fingerprint(request, raw) if key else None
    if key:
        replay = await writes.replay(request, write.principal.uid, key, fingerprint, write.router)
        if replay is not None:
            return replay
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    items = await run_in_threadpool(parse_items, raw, media_type, settings.bulk_max_items)
    del raw
    await run_in_threadpool(hash_passwords, items)
    if not items:
        raise bad_request("The request has no items.")
    total = len(items)
    chunks = await run_in_threadpool(_pack_chunks, items, settings.bulk_chunk_size)
    del items
    now = int(time.time() * 1000)
    job_id = uuid.uuid4().hex
    # BulkImport's dump, built directly: validating 10,000 dicts again buys nothing.
    command = {"kind": BulkImport.model_fields["kind"].default, "job_id": job_id,
               "chunks": chunks}  # fmt: skip
    row = {
        "id": job_id,
        "kind": command["kind"],
        "router": write.router,
        "actor_uid": write.principal.uid,
        "command": command,
        "state": jobs.QUEUED,
        "idempotency_key": key,
        "request_hash": fingerprint,
        "created_at": now,
        "enqueued_at": now,
        "attempts": 0,
        "progress": bulk_jobs.new_progress(total),
    }
    finished = state.waiter.expect(job_id)
    try:
        await _store_and_publish(request, settings, row)
    except DuplicateKey:
        state.waiter.forget(job_id, finished)
        replay = await writes.replay(request, write.principal.uid, key or "", fingerprint,
                                     write.router)  # fmt: skip
        if replay is None:
            raise ApiError(409, "conflict") from None
        return replay
    except BaseException:
        state.waiter.forget(job_id, finished)
        raise
    return await writes.answer(request, row, write.router, None, finished)


def _bounded(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > high:
        raise bad_request(f"{name} must be an integer from 0 to {high}", [name])
    return int(raw)


def _item_view(router: str, view: dict[str, Any]) -> dict[str, Any]:
    record = view.get("error")
    if record:
        status, body = envelopes.forum_error_body(router, record)
        if "line" in record:
            body["line"] = record["line"]
        view["error"] = {"status": status, **body}
    return view


async def job_items(request: Request) -> Response:
    """``GET /api/jobs/{job_id}/items?offset=&limit=``: per-item results in input order;
    items not applied yet show as ``pending``."""
    write = await authenticated(request)
    job_id = request.path_params["job_id"]
    if not JOB_ID.fullmatch(job_id):
        raise not_found()
    offset = _bounded(request, "offset", 0, 10**9)
    limit = max(1, _bounded(request, "limit", 100, MAX_PAGE))

    def load() -> tuple[Job | None, list[dict[str, Any]]]:
        with session_factory(request.app.state.settings.database_url)() as session:
            job = jobs.get(session, job_id, command=False)
            if job is None or job.kind != bulk_jobs.KIND:
                return None, []
            return job, bulk_jobs.items_page(session, job_id, offset, limit)

    job, rows = await run_in_threadpool(load)
    if job is None or not (write.principal.is_admin or job.actor_uid == write.principal.uid):
        raise not_found()
    total = (job.progress or {}).get("total", 0)
    found = {row["index"]: _item_view(job.router, row) for row in rows}
    items = [
        found.get(i) or {"index": i, "state": "pending"}
        for i in range(offset, min(offset + limit, total))
    ]
    payload = {"items": items, "offset": offset, "limit": limit, "total": total}
    return envelopes.success(job.router, payload)


def routes(version: str) -> list[DocumentedRoute]:
    if version != "v2":
        return []
    return [
        route("POST", "/bulk", bulk_import,
              "Import users, categories, topics and replies (JSON array or NDJSON)",
              auth="admin", body=BulkImport, errors=(403, 413)),
    ]  # fmt: skip

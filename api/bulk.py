"""``POST /api/v2/bulk``: one request, thousands of imported writes (admins only).

The body is a JSON array of items, or NDJSON (``Content-Type: application/x-ndjson``).
The API validates every item, once (a bad one becomes a failed item in place, with
its line number, never a failed request), stores ONE ``bulk.import`` job holding the
items in packed chunks, and publishes one message per chunk to the bulk queue; the
worker trusts those dumps. The answer is the
job, as for every write (202, or the final answer with ``Prefer: wait=N``).
"""

import functools
import re
from collections.abc import Iterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.errors import ApiError, bad_request, not_found, too_large, unavailable
from api.routing import DocumentedRoute, route
from api.writes import Writes, authenticated, job_location
from forum.db import session_factory
from forum.errors import ForumError
from forum.jobqueue import chunks, store
from forum.jobqueue.intake import Intake
from forum.models import Job
from forum.passwords import hash_password
from forum.rules import Rules
from forum.users import check_password
from forumq.logs import REQUEST_ID
from forumq.settings import Settings
from schemas.bulk import (
    NUL_ESCAPE,
    BulkItems,
    invalid,
    parse_item,
    parse_line,
    without_nul,
)

NDJSON = "application/x-ndjson"
JOB_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
MAX_PAGE = 1000


async def _read(request: Request, limit: int) -> bytearray:
    """The body, held once: no copy of it is made (a body near the limit would need
    one more of its size)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large(limit)
    return raw


def _lines(raw: bytes | bytearray) -> Iterator[tuple[int, bytes | bytearray]]:
    """The non-blank NDJSON lines with their 1-based numbers, one at a time (splitting
    the body at once would hold a second copy of it)."""
    start, number = 0, 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        number += 1
        line = raw[start:end]
        start = end + 1
        if line.strip():
            yield number, line


def _too_many(count: int, limit: int) -> ApiError:
    message = f"At most {limit} items per request; this one has {count}."
    return too_large(limit, "items", message)


def parse_items(raw: bytes | bytearray, media_type: str, limit: int) -> list[dict[str, Any]]:
    """The request's items as stored: valid items as validated, bad ones as invalid
    markers (each validated once, here; the worker trusts them)."""
    if media_type == NDJSON:
        count = sum(1 for _ in _lines(raw))
        if count > limit:
            raise _too_many(count, limit)
        return [parse_line(line, n) for n, line in _lines(raw)]
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


def hash_passwords(items: list[dict[str, Any]], rules: Rules) -> None:
    """No password is stored or queued: a user item's is checked and replaced by its
    hash here (the worker stores the hash); a refused one fails alone, in place."""
    for index, item in enumerate(items):
        if item["type"] != "user" or item.get("password") is None:
            continue
        password = item.pop("password")
        try:
            check_password(password, rules)
        except ForumError as exc:
            items[index] = invalid(exc.key, exc.args_, data=item)
            continue
        item["password_hash"] = hash_password(password)


def _pack_chunks(items: list[dict[str, Any]], size: int) -> list[str]:
    return [
        chunks.pack(enumerate(items[start : start + size], start))
        for start in range(0, len(items), size)
    ]


async def _enqueue(intake: Intake, row: dict[str, Any], _durable: bool) -> None:
    """Store the bulk job, then publish one ``forumq.bulk_chunk`` message per chunk on
    the bulk queue; withdrawn if the broker refuses one. Stored durably whatever the
    caller waits for (one large row, in a thread: ``Intake.store_one``)."""
    await intake.store_one(row)
    try:
        await intake.publish_chunks(row["id"], row["command"]["chunks"])
    except Exception as exc:
        # Chunks already published find no job and do nothing; a retried request is
        # safe anyway (its external ids are recognised).
        await intake.withdraw([row["id"]])
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
    raw = await _read(request, settings.bulk_max_bytes)
    key, fingerprint, replay = await writes.idempotency(write, raw)
    if replay is not None:
        return replay
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    items = await run_in_threadpool(parse_items, raw, media_type, settings.bulk_max_items)
    del raw
    await run_in_threadpool(hash_passwords, items, settings.rules)
    if not items:
        raise bad_request("The request has no items.")
    total = len(items)
    packed = await run_in_threadpool(_pack_chunks, items, settings.bulk_chunk_size)
    del items
    job_id = store.new_job_id()
    # BulkImport's dump, built directly: validating 10,000 dicts again buys nothing.
    command = {"kind": chunks.KIND, "job_id": job_id, "chunks": packed}
    row = store.new_job(job_id, chunks.KIND, write.router, write.principal.uid, command,
                       idempotency_key=key, request_hash=fingerprint,
                       progress=chunks.new_progress(total),
                       request_id=REQUEST_ID.get())  # fmt: skip
    answer = await writes.accept(write, row, functools.partial(_enqueue, state.intake))
    # Waited for or not, the answer leads to the job and its per-item results.
    answer.headers.setdefault("Location", job_location(job_id))
    return answer


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
            job = store.get(session, job_id, command=False)
            if job is None or job.kind != chunks.KIND:
                return None, []
            return job, chunks.items_page(session, job_id, offset, limit)

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
              "Import users, categories, topics and replies (JSON array or NDJSON; at most "
              "FORUMQ_BULK_MAX_ITEMS items, 10,000, and FORUMQ_BULK_MAX_BYTES, 64 MiB)",
              auth="admin", body=BulkItems, errors=(403, 413)),
    ]  # fmt: skip

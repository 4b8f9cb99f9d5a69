"""``POST /api/v2/bulk``: one request, thousands of imported writes (admins only).

The body is a JSON array of items, or NDJSON (``Content-Type: application/x-ndjson``),
parsed as it arrives (a bounded amount of memory, whatever its size; a retry of a known
Idempotency-Key is only hashed). The API validates every item, once (a bad one becomes
a failed item in place, with its line number, never a failed request), stores ONE
``bulk.import`` job holding the items in packed chunks, and publishes one message per
chunk to the bulk queue; the worker trusts those dumps. The answer is the job, as for
every write (202, or the final answer with ``Prefer: wait=N``).
"""

import functools
import re
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.errors import ApiError, bad_request, not_found, too_large, unavailable
from api.routing import DocumentedRoute, route
from api.writes import Writes, authenticated, fingerprint_digest, idempotency_key, job_location
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
# A body is parsed in blocks of about this many bytes (NDJSON: of whole lines).
BODY_BLOCK = 1 << 20


def _declared_too_large(request: Request, limit: int) -> None:
    """A body declared (``Content-Length``) over the limit is refused before it is read."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


def _too_many(limit: int, count: int | None = None) -> ApiError:
    more = "more" if count is None else str(count)
    return too_large(limit, "items", f"At most {limit} items per request; this one has {more}.")


def _not_json() -> ApiError:
    return bad_request("The request body is not valid JSON (send an array, or NDJSON).")


# What the splitter stops at: inside a string, its end or an escape; outside, structure.
_IN_TEXT = re.compile(rb'["\\]')
_STRUCTURE = re.compile(rb'["\[\]{},]')
_NOT_SPACE = re.compile(rb"[^ \t\n\r]")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


class ArraySplitter:
    """A JSON array's top-level elements, from a body fed in pieces: each element's
    text is cut out as soon as its end arrives (``feed``), so a request holds one
    element and one piece, not the body. Only strings, brackets and the commas between
    elements are followed here; orjson parses each element, so a body whose every
    element parses is a valid JSON array."""

    def __init__(self) -> None:
        self._text = bytearray()  # from the current element's start
        self._pos = 0  # the next byte to scan
        self._depth = 0  # 0: before the array; 1: between its elements; more: in one
        self._in_string = False
        self._closed = False
        self.count = 0

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """The elements completed by ``data``; raises on text that is not an array."""
        text = self._text
        text += data
        found: list[bytes] = []
        start, pos, end = 0, self._pos, len(text)
        while pos < end:
            if self._closed:  # after the array: whitespace only
                if _NOT_SPACE.search(text, pos):
                    raise _not_json()
                pos = end
            elif self._depth == 0:
                first = _NOT_SPACE.search(text, pos)
                if first is None:
                    pos = end
                elif text[first.start()] != ord("["):
                    raise bad_request("The request body must be a JSON array of items, or NDJSON.")
                else:
                    self._depth, pos = 1, first.start() + 1
                    start = pos
            elif self._in_string:
                stop = _IN_TEXT.search(text, pos)
                if stop is None:
                    pos = end
                elif text[stop.start()] == ord("\\"):
                    if stop.start() + 1 == end:  # the escaped byte is in the next piece
                        pos = stop.start()
                        break
                    pos = stop.start() + 2
                else:
                    self._in_string, pos = False, stop.start() + 1
            else:
                stop = _STRUCTURE.search(text, pos)
                if stop is None:
                    pos = end
                    continue
                at, char = stop.start(), text[stop.start()]
                pos = at + 1
                if char == ord('"'):
                    self._in_string = True
                elif char in _OPEN:
                    self._depth += 1
                elif char in _CLOSE:
                    self._depth -= 1
                    if self._depth == 0:
                        if char != ord("]"):
                            raise _not_json()
                        element = bytes(text[start:at])
                        if self.count or _NOT_SPACE.search(element):  # "[]" has none
                            found.append(element)
                            self.count += 1
                        self._closed = True
                elif self._depth == 1:  # a comma between elements
                    found.append(bytes(text[start:at]))
                    self.count += 1
                    start = pos
        if self._depth == 0 or self._closed:
            start = pos
        del text[:start]
        self._pos = pos - start
        return found

    def finish(self) -> None:
        """The body ended: it must have been a whole array."""
        if not self._closed:
            raise _not_json()


def parse_element(raw: bytes) -> dict[str, Any]:
    """One element of a JSON array body as a stored item, or an invalid marker."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _not_json() from None
    item = parse_item(data)
    return without_nul(item) if NUL_ESCAPE in raw else item


def parse_items(raw: bytes | bytearray, limit: int) -> list[dict[str, Any]]:
    """A whole JSON array body's items as stored: valid items as validated, bad ones as
    invalid markers (each validated once, here; the worker trusts them)."""
    splitter = ArraySplitter()
    elements = splitter.feed(raw)
    splitter.finish()
    if len(elements) > limit:
        raise _too_many(limit, len(elements))
    return [parse_element(element) for element in elements]


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


class BodyReader:
    """A bulk body parsed as it arrives: a block of text at a time, its items checked
    and packed into chunks at once (``chunks.Packer``), so a request holds its
    compressed chunks, one block of text and its items, whatever its size."""

    def __init__(self, settings: Settings, spool: chunks.ChunkSpool | None = None) -> None:
        self.settings = settings
        self.packer = chunks.Packer(settings.bulk_chunk_size, spool=spool)

    def block(self, text: bytes) -> None:
        """Parse, check and pack the items of ``text`` (in a thread)."""
        raise NotImplementedError

    def end(self) -> None:
        """The body ended (in a thread)."""

    def take(self, items: list[dict[str, Any]]) -> None:
        if self.packer.total + len(items) > self.settings.bulk_max_items:
            raise _too_many(self.settings.bulk_max_items)
        hash_passwords(items, self.settings.rules)
        self.packer.add(items)

    def cut(self, pending: bytearray) -> int:
        """How much of the text received so far makes a block (0: wait for more)."""
        return len(pending)

    async def read(self, request: Request, digest: Any) -> None:
        """Read the body into the packer; ``digest`` is fed the body (the request's
        fingerprint for its Idempotency-Key)."""
        limit = self.settings.bulk_max_bytes
        _declared_too_large(request, limit)
        received, pending = 0, bytearray()
        async for data in request.stream():
            received += len(data)
            if received > limit:
                raise too_large(limit)
            digest.update(data)
            pending += data
            if len(pending) >= BODY_BLOCK:
                cut = self.cut(pending)
                if cut:
                    text = bytes(pending[:cut])
                    del pending[:cut]
                    await run_in_threadpool(self.block, text)
        if pending:
            await run_in_threadpool(self.block, bytes(pending))
        await run_in_threadpool(self.end)
        await run_in_threadpool(self.packer.finish)


class NdjsonReader(BodyReader):
    """NDJSON: whole lines a block at a time; a bad line fails alone, with its number."""

    def __init__(self, settings: Settings, spool: chunks.ChunkSpool | None = None) -> None:
        super().__init__(settings, spool)
        self.lines = 0  # lines read so far (blank ones too: a bad item names its line)

    def cut(self, pending: bytearray) -> int:
        return pending.rfind(b"\n") + 1

    def block(self, text: bytes) -> None:
        lines = text.split(b"\n")
        if text.endswith(b"\n"):
            lines.pop()
        items = [parse_line(line, self.lines + n) for n, line in enumerate(lines, 1)
                 if line.strip()]  # fmt: skip
        self.lines += len(lines)
        self.take(items)


class ArrayReader(BodyReader):
    """A JSON array, split into its elements as they arrive (``ArraySplitter``); an
    element that is not JSON makes the body invalid, as a whole-body parse would."""

    def __init__(self, settings: Settings, spool: chunks.ChunkSpool | None = None) -> None:
        super().__init__(settings, spool)
        self.splitter = ArraySplitter()

    def block(self, text: bytes) -> None:
        self.take([parse_element(element) for element in self.splitter.feed(text)])

    def end(self) -> None:
        self.splitter.finish()


async def _hash_only(request: Request, limit: int, digest: Any) -> None:
    """Feed the body to ``digest`` alone (a replay: the earlier request's items stand)."""
    _declared_too_large(request, limit)
    received = 0
    async for data in request.stream():
        received += len(data)
        if received > limit:
            raise too_large(limit)
        digest.update(data)


async def _enqueue(
    intake: Intake, spool: chunks.ChunkSpool, row: dict[str, Any], _durable: bool
) -> None:
    """Store the bulk job, its command streamed from ``spool``, then publish one
    ``forumq.bulk_chunk`` message per chunk on the bulk queue, read back one at a time;
    withdrawn if the broker refuses one. Stored durably whatever the caller waits for
    (one large row, in a thread)."""
    await intake.store_spooled(row, spool.command_pieces)
    try:
        await intake.publish_chunks(row["id"], spool)
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
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    job_id = store.new_job_id()
    limit = settings.bulk_max_bytes
    key = idempotency_key(request)  # a malformed key is refused before the upload
    digest = fingerprint_digest(request)
    if key is not None and await writes.known_key(write.principal.uid, key):
        # A retry: its body is only hashed, to tell a replay from a reused key (422).
        await _hash_only(request, limit, digest)
        _, _, replay = await writes.idempotency(write, digest=digest)
        if replay is None:  # the earlier job was withdrawn meanwhile
            raise ApiError(409, "conflict")
        return replay
    # The packed chunks wait in a file, not in memory, until the job is stored.
    with chunks.ChunkSpool(job_id) as spool:
        reader = (NdjsonReader if media_type == NDJSON else ArrayReader)(settings, spool)
        await reader.read(request, digest)
        total = reader.packer.total
        key, fingerprint, replay = await writes.idempotency(write, digest=digest)
        if replay is not None:
            return replay
        if not total:
            raise bad_request("The request has no items.")
        # BulkImport's dump is stored from the spool (``_enqueue``); the row holds none.
        command = {"kind": chunks.KIND, "job_id": job_id}
        row = store.new_job(job_id, chunks.KIND, write.router, write.principal.uid, command,
                           idempotency_key=key, request_hash=fingerprint,
                           progress=chunks.new_progress(total),
                           request_id=REQUEST_ID.get())  # fmt: skip
        enqueue = functools.partial(_enqueue, state.intake, spool)
        answer = await writes.accept(write, row, enqueue)
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

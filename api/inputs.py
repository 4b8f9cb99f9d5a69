"""Reading requests: bodies (JSON or form, size-limited), path ids, commands."""

import functools
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from api.errors import ApiError, bad_request, missing, params_missing, too_large
from api.read.answers import is_number

Body = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
# How deep a parameter's value may nest (lists of lists...); no route takes more than 2.
MAX_DEPTH = 32


_HEADERS = "forumq.headers"


def header(request: Request, name: str) -> str | None:
    """``request.headers.get(name)`` for a lowercase ``name`` (the first value), from a
    dict built once per request: Starlette's ``Headers`` scans the header list on each
    lookup, and a missing header costs it a raised and caught KeyError."""
    scope = request.scope
    headers: dict[str, str] | None = scope.get(_HEADERS)
    if headers is None:
        # reversed(): the first of repeated headers wins, as in Headers.get.
        pairs = reversed(scope["headers"])
        headers = scope[_HEADERS] = {k.decode("latin-1"): v.decode("latin-1") for k, v in pairs}
    return headers.get(name)


async def read_body(request: Request, limit: int) -> Body:
    """The request's parameters: a JSON object or a urlencoded form; {} when empty."""
    declared = header(request, "content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    raw = await _receive_body(request, limit)
    if not raw.strip():
        return {}
    media_type = (header(request, "content-type") or "").split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return _without_nul(parse_form(raw.decode("utf-8", errors="replace")))
    if media_type in ("application/json", "") or media_type.endswith("+json"):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise bad_request("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return _without_nul(body)
    raise bad_request(f"Unsupported content type {media_type!r}: send JSON or a form.")


async def _receive_body(request: Request, limit: int) -> bytearray:
    """The body's bytes, read from the ASGI messages themselves: iterating
    ``request.stream()`` (an async generator) costs asyncio's generator hooks a
    ``WeakSet.add`` per request, about 5% of the API's CPU on the accept path."""
    raw = bytearray()
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.request":
            raw += message.get("body", b"")
            if len(raw) > limit:
                raise _too_large(limit)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()
    # As after ``request.stream()``: the body was read once and cannot be read again.
    request._stream_consumed = True
    return raw


def _bad_value(value: Any) -> bool:
    """A NUL anywhere in ``value``, or nesting deeper than MAX_DEPTH."""
    if isinstance(value, str):  # most parameters: no need for the walk below
        return "\x00" in value
    if not isinstance(value, list | dict):
        return False
    pending = [(value, 0)]  # a loop, not recursion: JSON may nest 1024 deep
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH or (isinstance(item, str) and "\x00" in item):
            return True
        if isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            pending.extend((child, depth + 1) for child in (*item.keys(), *item.values()))
    return False


def _without_nul(body: Body) -> Body:
    """Refuse U+0000 anywhere in the parameters (PostgreSQL cannot store it, so such a
    write would fail in the worker instead of getting its 400 here), and values nested
    deeper than any route takes (they could not even be serialised into a job)."""

    bad = sorted(str(key) for key, value in body.items() if _bad_value(key) or _bad_value(value))
    if bad:
        raise bad_request(
            f"Parameters must not contain NUL (U+0000) characters or nest over {MAX_DEPTH} deep.",
            bad,
        )
    return body


def parse_form(text: str) -> Body:
    """``a=1&tags=x&tags=y`` and ``tags[]=x`` both give lists for repeated keys."""
    body: Body = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        as_list = key.endswith("[]")
        key = key.removesuffix("[]")
        if key in body:
            existing = body[key]
            body[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            body[key] = [value] if as_list else value
    return body


def _too_large(limit: int) -> ApiError:
    return too_large(limit)


# What a path parameter names, as NodeBB's 404 for a missing one says it.
MISSING = {"uid": "no-user", "cid": "no-category", "tid": "no-topic", "pid": "no-post",
           "roomId": "chat-room-does-not-exist", "slug": "no-group", "mid": "invalid-mid",
           "flagId": "no-flag"}  # fmt: skip


def path_id(request: Request, name: str) -> int:
    """A numeric id from the path; anything else names nothing (404 ``no-topic``...),
    but a ``roomId`` that is not even a number is 400 ``invalid-data`` (``assert.room``)."""
    raw = request.path_params[name]
    # isascii(): "²" is a digit to str.isdigit() but int() refuses it.
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        if name == "roomId" and not is_number(raw):
            raise ApiError(400, "bad-request", key="invalid-data")
        raise missing(MISSING[name])
    return int(raw)


@functools.cache
def _accepted_keys(model: type[BaseModel]) -> frozenset[str]:
    """The body keys ``model`` takes (wire aliases and field names); models are
    defined once at import, so this is computed once per model, not per request."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        if name != "kind":
            keys.add(field.alias or name)
            keys.add(name)
    return frozenset(keys)


def build_command(model: type[M], body: Body, **trusted: Any) -> M:
    """Validate the route's parameters into ``model``; other body keys are ignored.

    ``trusted`` values come from the path or the server and win over the body."""
    accepted = _accepted_keys(model)
    data = {key: value for key, value in body.items() if key in accepted}
    data.update(trusted)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        missing = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"]
        if missing:
            raise params_missing(missing) from None
        invalid = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
        details = "; ".join(f"{e['loc'][0] if e['loc'] else 'body'}: {e['msg']}"
                            for e in exc.errors())  # fmt: skip
        raise bad_request(f"Invalid parameters: {details}", invalid) from None

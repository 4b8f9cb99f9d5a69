"""Envelopes: the plugin's ``{code, message, params}`` / ``{code, payload}`` (v1, v2)
and core's ``{status, response}`` (v3). One place maps forum errors to statuses."""

from typing import Any

import orjson
from starlette.responses import Response

from forum.errors import ErrorClass

V1, V2, V3 = "v1", "v2", "v3"

MESSAGES = {
    "bad-request": "Something was wrong with the request payload you passed in.",
    "params-missing": "Required parameters were missing from this API call, please see the "
    '"params" property',
    "not-authorised": "A valid login session was not found. Please log in and try again.",
    "forbidden": "You are not authorised to make this call",
    "not-found": "Invalid API call",
    "method-not-allowed": "This method is not served here; the Allow header lists those that are.",
    "payload-too-large": "The request body is larger than this server accepts.",
    "idempotency-key-reused": "This Idempotency-Key was used with a different request.",
    "conflict": "A request with this Idempotency-Key is still being processed.",
    "too-many-requests": "Too many attempts: retry after the number of seconds in Retry-After.",
    "service-unavailable": "The service cannot accept writes right now; retry later.",
    "internal-server-error": "An unexpected error was encountered while attempting to service "
    "your request.",
}
STATUS_CODES = {
    400: "bad-request", 401: "not-authorised", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 409: "conflict", 413: "payload-too-large",
    422: "idempotency-key-reused", 426: "upgrade-required", 429: "too-many-requests",
    500: "internal-server-error", 503: "service-unavailable",
}  # fmt: skip
# Error classes (forum.errors.ErrorClass) -> HTTP status on every router.
CLASS_STATUS = {
    ErrorClass.BAD_REQUEST: 400, ErrorClass.NOT_AUTHORISED: 401, ErrorClass.FORBIDDEN: 403,
    ErrorClass.NOT_FOUND: 404, ErrorClass.UNAVAILABLE: 503, ErrorClass.INTERNAL: 500,
}  # fmt: skip
# Core v3 remaps some error keys (nodebb-core.md §1.2).
V3_KEY_STATUS = {"no-privileges": 403, "user-banned": 403, "invalid-uid": 401, "no-topic": 404}


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# "/api/v1" and "/api/v1/..." -> "v1" (built once: this runs on every request).
_ROUTER_PREFIXES = tuple((f"/api/{router}", router) for router in (V1, V2, V3))


def router_of(path: str) -> str:
    if path.startswith("/api/v"):
        for prefix, router in _ROUTER_PREFIXES:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return router
    return V2  # forumq's own routes speak the plugin's envelope


ACCEPTED_MESSAGE = "The write is queued and not applied yet: follow links.self for its result."


def success_body(router: str, payload: Any, status: int = 200) -> dict[str, Any]:
    if router == V3:
        code, message = ("accepted", "Accepted") if status == 202 else ("ok", "OK")
        return {"status": {"code": code, "message": message},
                "response": {} if payload is None else payload}  # fmt: skip
    if status == 202:
        # Not the final answer: a plugin client checking ``code === "ok"`` must not
        # take it for success (the plugin was synchronous and never answered 202).
        return {"code": "accepted", "message": ACCEPTED_MESSAGE, "payload": payload or {}}
    return {"code": "ok", "payload": payload or {}}


def error_body(router: str, status: int, code: str | None = None, message: str | None = None,
               params: Any = None) -> dict[str, Any]:  # fmt: skip
    code = code or STATUS_CODES.get(status, "internal-server-error")
    if router == V3:
        return core_error_body(status, code, message, params)
    message = message or MESSAGES.get(code, code)
    return {"code": code, "message": message, "params": {} if params is None else params}


def core_error_body(status: int, code: str, message: str | None, params: Any) -> dict[str, Any]:
    """Core's error envelope: the code names the status (every 400 is ``bad-request``);
    missing parameters are ``required-parameters-missing`` with their names in
    ``response.params``, as core's checkRequired answers."""
    if code == "params-missing" and isinstance(params, list):
        message = f"[[error:required-parameters-missing, {' '.join(map(str, params))}]]"
    message = message or MESSAGES.get(code, code)
    code = STATUS_CODES.get(status, code)
    response = params if isinstance(params, dict) else {"params": params} if params else {}
    return {"status": {"code": code, "message": message}, "response": response}


def success(router: str, payload: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSONResponse(success_body(router, payload, status), status, headers)


def error(router: str, status: int, code: str | None = None, message: str | None = None,
          params: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSONResponse(error_body(router, status, code, message, params), status, headers)


def key_message(router: str, key: str) -> str:
    """NodeBB's error key as each router's message: the bare key on v1/v2
    (``content-too-short``), core's ``[[error:content-too-short]]`` on v3."""
    return f"[[error:{key}]]" if router == V3 else key


def forum_error_status(router: str, record: dict[str, Any]) -> int:
    if router == V3:
        if record["key"] in V3_KEY_STATUS:
            return V3_KEY_STATUS[record["key"]]
        if record["kind"] == "not-authorised":
            return 403  # the domain refuses an authenticated caller: "self or admin" (decision 3)
    return CLASS_STATUS.get(record["kind"], 500)  # the record's class (forum.errors)


def forum_error_body(router: str, record: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A worker's error record as the router's status and envelope.

    v1/v2 put NodeBB's error key in ``message`` (``content-too-short``) and its
    arguments in ``params``; v3 puts the ``[[error:...]]`` text in the status."""
    status = forum_error_status(router, record)
    if router == V3:
        return status, error_body(router, status, message=record["message"])
    # A key that only repeats the code (``not-authorised``) gets the plugin's sentence;
    # a missing object says which (``no-topic``), unlike an unknown route.
    plain = record["key"] == STATUS_CODES.get(status)
    message = None if plain else record["key"]
    return status, error_body(router, status, message=message, params=record.get("args") or {})

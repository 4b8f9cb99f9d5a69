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
    409: "conflict", 413: "payload-too-large", 422: "idempotency-key-reused",
    429: "too-many-requests",
    426: "upgrade-required", 500: "internal-server-error", 503: "service-unavailable",
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


def success_body(router: str, payload: Any, status: int = 200) -> dict[str, Any]:
    if router == V3:
        code, message = ("accepted", "Accepted") if status == 202 else ("ok", "OK")
        return {"status": {"code": code, "message": message}, "response": payload or {}}
    return {"code": "ok", "payload": payload or {}}


def error_body(router: str, status: int, code: str | None = None, message: str | None = None,
               params: Any = None) -> dict[str, Any]:  # fmt: skip
    code = code or STATUS_CODES.get(status, "internal-server-error")
    message = message or MESSAGES.get(code, code)
    if router == V3:
        return {"status": {"code": code, "message": message}, "response": params or {}}
    return {"code": code, "message": message, "params": {} if params is None else params}


def success(router: str, payload: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSONResponse(success_body(router, payload, status), status, headers)


def error(router: str, status: int, code: str | None = None, message: str | None = None,
          params: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    return JSONResponse(error_body(router, status, code, message, params), status, headers)


def forum_error_status(router: str, record: dict[str, Any]) -> int:
    if router == V3 and record["key"] in V3_KEY_STATUS:
        return V3_KEY_STATUS[record["key"]]
    return CLASS_STATUS.get(record["kind"], 500)  # the record's class (forum.errors)


def forum_error_body(router: str, record: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A worker's error record as the router's status and envelope.

    v1/v2 put NodeBB's error key in ``message`` (``content-too-short``) and its
    arguments in ``params``; v3 puts the ``[[error:...]]`` text in the status."""
    status = forum_error_status(router, record)
    if router == V3:
        return status, error_body(router, status, message=record["message"])
    # A key that only repeats the code (``not-authorised``) gets the plugin's sentence.
    plain = status == 404 or record["key"] == STATUS_CODES.get(status)
    message = None if plain else record["key"]
    return status, error_body(router, status, message=message, params=record.get("args") or {})

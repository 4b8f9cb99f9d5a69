"""Serving a read: who is asking (credentials as for writes; none is a guest), one
read-only session, and NodeBB's answers and refusals.

NodeBB's read pages answer their data bare; a missing object is 404
``{path, title: "[[global:404.title]]"}``, a refusal 403 ``{path, loggedIn, title:
"[[global:403.title]]"}`` (401 in core's envelope for a guest), and a page that lives
elsewhere 200 with its path as a JSON string and ``X-Redirect``. v3 GETs answer in
core's ``{status, response}`` envelope."""

import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api import envelopes
from api.envelopes import JSONResponse
from api.errors import ApiError
from api.routing import DocumentedRoute, QueryParameter, route
from forum.db import read_session_factory
from forum.errors import ErrorClass, ForumError
from forum.read.access import Viewer, load_viewer
from forum.read.pages import Redirect

# NodeBB's defaults (postsPerPage, topicsPerPage, userSearchResultsPerPage).
PER_PAGE = 20
USERS_PER_PAGE = 50
# Pages past this one are as empty as it is; it keeps OFFSET within a 64-bit integer.
MAX_PAGE = 10_000_000
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")

Work = Callable[[Session, Viewer], Any]
# A read of the object whose id the path names.
ByIdWork = Callable[[Session, Viewer, int], Any]
Endpoint = Callable[[Request], Awaitable[Response]]


def now_ms() -> int:
    return int(time.time() * 1000)


def forum_id(text: str) -> int | None:
    """A forum id from the path: ASCII digits, 1 to 2**63 - 1; anything else names
    nothing (NodeBB's ``utils.isNumber`` then a lookup that finds nothing)."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        return None
    return int(text)


def is_number(text: str) -> bool:
    """NodeBB's ``utils.isNumber``: a finite decimal number ("3", "-2", "1.5", "1e3")."""
    try:
        return (
            math.isfinite(float(text))
            and text.strip() == text
            and text.lower() not in ("inf", "nan")
        )
    except ValueError:
        return False


def leading_int(text: str | None) -> int | None:
    """JavaScript's ``parseInt``: the leading integer of ``text``, None when there is none."""
    match = _LEADING_INT.match(text or "")
    if match is None or len(match.group(1)) > 19:
        return None
    return int(match.group(1))


def page_param(request: Request) -> int | None:
    """``?page=``: ``parseInt(page) || 1`` as NodeBB, and never below 1; None when absent."""
    raw = request.query_params.get("page")
    if raw is None:
        return None
    return min(MAX_PAGE, max(1, leading_int(raw) or 1))


async def caller_uid(request: Request) -> int:
    """The caller's uid (0: a guest). Bad credentials are refused as on writes (an
    ``ApiError``, answered in core's envelope by ``credentials_refused``)."""
    auth = request.app.state.auth
    if not auth.presented(request):
        return 0
    principal, _ = await auth.authenticate(request, {})
    return int(principal.uid)


def credentials_refused(refused: ApiError) -> Response:
    """NodeBB's authentication middleware answers with formatApiResponse: core's envelope."""
    params = refused.params if isinstance(refused.params, dict) else None  # response: {}
    return envelopes.error(envelopes.V3, refused.status, refused.code, refused.message,
                           params, refused.headers)  # fmt: skip


async def run(request: Request, uid: int, work: Work) -> Any:
    sessions = read_session_factory(request.app.state.settings.database_url)

    def read() -> Any:
        with sessions() as session:
            return work(session, load_viewer(session, uid))

    return await run_in_threadpool(read)


def _path(request: Request) -> str:
    return request.url.path.removeprefix("/api")


def not_found(request: Request) -> Response:
    body = {"path": _path(request), "title": "[[global:404.title]]", "bodyClass": "page-status-404"}
    return JSONResponse(body, 404)


def not_allowed(request: Request, uid: int) -> Response:
    """NodeBB's helpers.notAllowed: a guest is asked to log in (401)."""
    if uid <= 0:
        return envelopes.error(envelopes.V3, 401)
    body = {"path": _path(request), "loggedIn": True, "title": "[[global:403.title]]",
            "bodyClass": "page-status-403"}  # fmt: skip
    return JSONResponse(body, 403)


async def _serve(
    request: Request,
    work: Work,
    answer: Callable[[Request, Any, int], Response],
    refuse: Callable[[Request, Exception, int], Response],
) -> Response:
    try:
        uid = await caller_uid(request)
    except ApiError as refused:
        return credentials_refused(refused)
    try:
        data = await run(request, uid, work)
    except (ForumError, Redirect) as refused:
        return refuse(request, refused, uid)
    return answer(request, data, uid)


def _page_answer(request: Request, data: Any, uid: int) -> Response:
    if isinstance(data, dict):
        data.setdefault("loggedIn", uid > 0)
        data.setdefault("relative_path", "")
        data.setdefault("url", _path(request))
    return JSONResponse(data)


def _page_refusal(request: Request, refused: Exception, uid: int) -> Response:
    if isinstance(refused, Redirect):
        return JSONResponse(refused.path, 200, {"X-Redirect": quote(refused.path, safe="/?=&")})
    assert isinstance(refused, ForumError)
    if refused.error_class == ErrorClass.NOT_FOUND:
        return not_found(request)
    if refused.error_class == ErrorClass.NOT_AUTHORISED:
        return envelopes.error(envelopes.V3, 401)
    return not_allowed(request, uid)


def _v3_answer(request: Request, data: Any, uid: int) -> Response:
    return envelopes.success(envelopes.V3, data)


def _v3_refusal(request: Request, refused: Exception, uid: int) -> Response:
    assert isinstance(refused, ForumError)
    if refused.error_class == ErrorClass.NOT_AUTHORISED and uid <= 0:
        return envelopes.error(envelopes.V3, 401)  # ensureLoggedIn
    status = envelopes.forum_error_status(envelopes.V3, refused.record())
    return envelopes.error(envelopes.V3, status, message=refused.message)


async def page(request: Request, work: Work) -> Response:
    """A read page: its data, or NodeBB's 404 / 403 / 401 / redirect."""
    return await _serve(request, work, _page_answer, _page_refusal)


async def bare(request: Request, work: Work) -> Response:
    """A route NodeBB answers with ``res.json`` of its data, none of a page's own keys."""
    return await _serve(request, work, lambda _, data, __: JSONResponse(data), _page_refusal)


async def v3(request: Request, work: Work) -> Response:
    """A v3 GET: ``{status, response}``; refusals with core's status and message."""
    return await _serve(request, work, _v3_answer, _v3_refusal)


async def page_of(request: Request, name: str, work: ByIdWork) -> Response:
    """A read page of the object whose id is path parameter ``name`` (not an id: 404)."""
    found = forum_id(request.path_params[name])
    if found is None:
        return not_found(request)
    return await page(request, lambda session, viewer: work(session, viewer, found))


async def v3_of(request: Request, name: str, work: ByIdWork) -> Response:
    """A v3 GET of the object whose id is path parameter ``name`` (not an id: 404)."""
    found = forum_id(request.path_params[name])
    if found is None:
        return v3_not_found()
    return await v3(request, lambda session, viewer: work(session, viewer, found))


def v3_not_found() -> Response:
    return envelopes.error(envelopes.V3, 404)


def read_route(path: str, endpoint: Endpoint, summary: str, *, auth: str = "optional",
               errors: tuple[int, ...] = (403, 404),
               query: tuple[QueryParameter, ...] = ()) -> DocumentedRoute:  # fmt: skip
    """A GET route of the read API, as the OpenAPI document lists it."""
    return route("GET", path, endpoint, summary, auth=auth, queued=False, enveloped=False,
                 errors=errors, query=query, page=True)  # fmt: skip


def v3_route(path: str, endpoint: Endpoint, summary: str, *, auth: str = "optional",
             errors: tuple[int, ...] = (404,),
             query: tuple[QueryParameter, ...] = ()) -> DocumentedRoute:  # fmt: skip
    return route("GET", path, endpoint, summary, auth=auth, queued=False, errors=errors,
                 query=query)  # fmt: skip

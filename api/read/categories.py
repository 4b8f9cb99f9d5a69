"""Category reads: ``/api/categories``, ``/api/category/:cid/:slug?/:topic_index?``
and the ``/api/v3/categories`` GETs."""

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from api.envelopes import JSONResponse
from api.read.answers import (
    PER_PAGE,
    Endpoint,
    bare,
    forum_id,
    is_number,
    leading_int,
    not_found,
    now_ms,
    page,
    page_param,
    read_route,
    v3,
    v3_not_found,
    v3_of,
    v3_route,
)  # fmt: skip
from forum.read import categories as reads
from forum.read.access import Viewer


async def index(request: Request) -> Response:
    return await page(request, reads.categories_index)


async def category_page(request: Request) -> Response:
    cid = forum_id(request.path_params["cid"])
    raw = request.path_params.get("topic_index")
    if cid is None or (raw is not None and not is_number(raw)):
        return not_found(request)
    index = None if raw is None else leading_int(raw)
    at = page_param(request)
    query = dict(request.query_params)
    return await page(
        request,
        lambda session, viewer: reads.category_page(
            session,
            viewer,
            cid,
            topic_index=index,
            page=at,
            query=query,
            per_page=PER_PAGE,
            now=now_ms(),
        ),
    )


async def moderators(request: Request) -> Response:
    """NodeBB looks the cid up as given: one that names nothing has no moderators."""
    cid = forum_id(request.path_params["cid"])
    if cid is None:
        return JSONResponse({"moderators": []})
    return await bare(request, lambda session, _: reads.category_moderators(session, cid, now_ms()))


async def v3_list(request: Request) -> Response:
    return await v3(request, reads.category_list)


def _v3(read: Callable[[Session, Viewer, int], Any]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return await v3_of(request, "cid", read)

    return endpoint


async def v3_privileges(request: Request) -> Response:
    """cid 0 names the global privileges."""
    raw = request.path_params["cid"]
    cid = 0 if raw == "0" else forum_id(raw)
    if cid is None:
        return v3_not_found()
    return await v3(
        request, lambda session, viewer: reads.privilege_table(session, viewer.uid, cid)
    )


async def v3_posts(request: Request) -> Response:
    return await v3_of(
        request, "cid", lambda s, v, cid: reads.category_recent_posts(s, v, cid, now_ms())
    )


async def v3_topics(request: Request) -> Response:
    after = max(0, leading_int(request.query_params.get("after")) or 0)
    return await v3_of(
        request,
        "cid",
        lambda s, v, cid: reads.category_topic_window(s, v, cid, after, PER_PAGE, now_ms()),
    )


def routes() -> list:  # type: ignore[type-arg]
    summary = "A category page: the category, its children, 20 topics (NodeBB: read.yaml)"
    return [
        read_route("/categories", index, "The categories the caller may see, as a tree"),
        read_route(
            "/categories/{cid}/moderators",
            moderators,
            "The users who moderate the category (anyone may ask)",
            errors=(),
        ),
        read_route("/category/{cid}", category_page, summary),
        read_route("/category/{cid}/{slug}", category_page, summary),
        read_route("/category/{cid}/{slug}/{topic_index}", category_page, summary),
    ]


def v3_routes() -> list:  # type: ignore[type-arg]
    return [
        v3_route("/categories", v3_list, "The categories the caller may see"),
        v3_route("/categories/", v3_list, "The categories the caller may see"),
        v3_route("/categories/{cid}", _v3(reads.category_get), "A category"),
        v3_route(
            "/categories/{cid}/children", _v3(reads.category_children), "A category's children"
        ),
        v3_route("/categories/{cid}/count", _v3(reads.category_count), "A category's topic count"),
        v3_route("/categories/{cid}/posts", v3_posts, "A category's latest posts"),
        v3_route(
            "/categories/{cid}/privileges",
            v3_privileges,
            "Who holds which privilege on the category (admins; cid 0: global)",
        ),
        v3_route("/categories/{cid}/topics", v3_topics, "A category's topics (?after=)"),
    ]

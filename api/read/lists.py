"""The forum-wide lists: ``/api/recent``, ``/api/popular``, ``/api/top``,
``/api/unread`` (+ ``/total``), ``/api/tags``, ``/api/tags/:tag``,
``/api/recent/posts/:term?``."""

from starlette.requests import Request
from starlette.responses import Response

from api.read.answers import PER_PAGE, forum_id, now_ms, page, page_param, read_route
from forum.read import lists as reads


def _wanted(request: Request, default_term: str = "alltime") -> reads.TopicsWanted:
    term = request.query_params.get("term", default_term)
    raw_cids = request.query_params.getlist("cid")
    cids = tuple(cid for cid in (forum_id(c) for c in raw_cids) if cid is not None)
    return reads.TopicsWanted(page_param(request) or 1, PER_PAGE,
                              term if term in reads.TERMS else default_term, cids)  # fmt: skip


def _topics(read):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        wanted = _wanted(request)
        return await page(request, lambda s, v: read(s, v, wanted, now_ms()))

    endpoint.__doc__ = read.__doc__
    return endpoint


async def unread_total(request: Request) -> Response:
    return await page(request, lambda s, v: reads.unread_total(s, v, now_ms()))


async def tags(request: Request) -> Response:
    return await page(request, reads.tags)


async def tag(request: Request) -> Response:
    name, wanted = request.path_params["tag"], _wanted(request)
    return await page(request, lambda s, v: reads.tag_page(s, v, name, wanted, now_ms()))


async def recent_posts(request: Request) -> Response:
    term = request.path_params.get("term", "alltime")
    at = page_param(request) or 1
    return await page(request, lambda s, v: reads.recent_posts(s, v, term, at, now_ms()))


def routes() -> list:  # type: ignore[type-arg]
    return [
        read_route("/recent", _topics(reads.recent), "Topics by latest reply"),
        read_route("/recent/posts", recent_posts, "The latest posts"),
        read_route("/recent/posts/{term}", recent_posts, "The latest posts within a term"),
        read_route("/popular", _topics(reads.popular), "Topics by number of posts (?term=)"),
        read_route("/top", _topics(reads.top), "Topics by votes (?term=)"),
        read_route("/unread", _topics(reads.unread), "Topics with news for the caller",
                   auth="any"),
        read_route("/unread/total", unread_total, "How many topics are unread", auth="any"),
        read_route("/tags", tags, "Tags by number of topics"),
        read_route("/tags/{tag}", tag, "The topics carrying a tag"),
    ]  # fmt: skip


def v3_routes() -> list:  # type: ignore[type-arg]
    return []

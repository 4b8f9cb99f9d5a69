"""Post reads: ``/api/post/:pid`` (where the post is), ``/api/post/pid/:pid`` (its
data, as NodeBB's deprecated getObject route) and the ``/api/v3/posts/:pid`` GETs."""

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.read.answers import Endpoint, now_ms, page_of, read_route, v3_of, v3_route
from forum.read import posts as reads


async def post_path(request: Request) -> Response:
    return await page_of(request, "pid", reads.post_path)


async def post_data(request: Request) -> Response:
    return await page_of(request, "pid", reads.post_get)


def _v3(read: Callable[..., Any], *, with_time: bool = False) -> Endpoint:
    """A v3 GET of the post named in the path."""

    async def endpoint(request: Request) -> Response:
        if with_time:
            return await v3_of(request, "pid", lambda s, v, pid: read(s, v, pid, now_ms()))
        return await v3_of(request, "pid", read)

    endpoint.__doc__ = read.__doc__
    return endpoint


async def post_diff(request: Request) -> Response:
    since = request.path_params["since"]  # checked after the privilege (forum.diffs)
    return await v3_of(
        request, "pid", lambda s, v, pid: reads.post_diff(s, v, pid, since, now_ms())
    )


def routes() -> list:  # type: ignore[type-arg]
    return [
        read_route("/post/pid/{pid}", post_data, "A post's data (as GET /api/v3/posts/:pid)"),
        read_route("/post/{pid}", post_path, "Where a post is: its topic path (X-Redirect)"),
    ]


def v3_routes() -> list:  # type: ignore[type-arg]
    return [
        v3_route("/posts/{pid}", _v3(reads.post_get), "A post's data"),
        v3_route("/posts/{pid}/raw", _v3(reads.post_raw), "A post's text as written"),
        v3_route("/posts/{pid}/index", _v3(reads.post_index_of), "A post's index in its topic"),
        v3_route("/posts/{pid}/summary", _v3(reads.post_summary, with_time=True),
                 "A post's summary"),
        v3_route("/posts/{pid}/replies", _v3(reads.post_replies, with_time=True),
                 "The posts replying to a post"),
        v3_route("/posts/{pid}/voters", _v3(reads.post_voters, with_time=True),
                 "A post's voters"),
        v3_route("/posts/{pid}/upvoters", _v3(reads.post_upvoters), "A post's upvoters' names"),
        v3_route("/posts/{pid}/diffs", _v3(reads.post_diffs),
                 "A post's edit history: its versions' timestamps, newest first"),
        v3_route("/posts/{pid}/diffs/{since}", post_diff,
                 "The post as it was at `since` (a version's timestamp)"),
    ]  # fmt: skip

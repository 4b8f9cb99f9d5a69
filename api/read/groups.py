"""Group reads: ``/api/groups``, ``/api/groups/:slug``, its members, and
``GET /api/v3/groups/:slug/members``."""

from starlette.requests import Request
from starlette.responses import Response

from api.read.answers import leading_int, now_ms, page, page_param, read_route, v3, v3_route
from forum.read import groups as reads


async def groups_list(request: Request) -> Response:
    return await page(request, reads.groups_page)


async def group(request: Request) -> Response:
    slug = request.path_params["slug"]
    return await page(request, lambda s, v: reads.group_page(s, v, slug, now_ms()))


async def members(request: Request) -> Response:
    slug, at = request.path_params["slug"], page_param(request) or 1
    return await page(request, lambda s, v: reads.group_members(s, v, slug, at, now_ms()))


async def v3_members(request: Request) -> Response:
    slug = request.path_params["slug"]
    after = max(0, leading_int(request.query_params.get("after")) or 0)
    at = 1 + after // reads.MEMBERS_PER_PAGE

    def work(session, viewer):  # type: ignore[no-untyped-def]
        found = reads.group_members(session, viewer, slug, at, now_ms())
        return {"users": found["users"], "nextStart": found["nextStart"], "timing": None,
                "matchCount": None}  # fmt: skip

    return await v3(request, work)


async def v3_pending(request: Request) -> Response:
    slug = request.path_params["slug"]
    return await v3(request, lambda s, v: reads.group_pending(s, v.uid, slug))


async def v3_invites(request: Request) -> Response:
    slug = request.path_params["slug"]
    return await v3(request, lambda s, v: reads.group_invites(s, v.uid, slug))


def routes() -> list:  # type: ignore[type-arg]
    return [
        read_route("/groups", groups_list, "The groups the caller may see"),
        read_route("/groups/{slug}", group, "A group page"),
        read_route("/groups/{slug}/members", members, "A group's members"),
    ]


def v3_routes() -> list:  # type: ignore[type-arg]
    return [
        v3_route("/groups/{slug}/members", v3_members, "A group's members (?after=)"),
        v3_route("/groups/{slug}/pending", v3_pending,
                 "The users asking to join (the group's managers)"),
        v3_route("/groups/{slug}/invites", v3_invites, "The users invited (the group's managers)"),
    ]  # fmt: skip

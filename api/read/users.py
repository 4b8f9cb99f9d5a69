"""User reads: ``/api/user/uid/:uid``, ``/username/:username``, ``/email/:email``,
the profile ``/api/user/:userslug`` and its list pages, ``/api/uid/:uid``,
``/api/users``, ``/api/self`` and ``GET /api/v3/users/:uid``."""

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from api.read.answers import (
    PER_PAGE,
    USERS_PER_PAGE,
    now_ms,
    page,
    page_of,
    page_param,
    read_route,
    v3_of,
    v3_route,
)  # fmt: skip
from forum.errors import not_found as missing
from forum.read import users as reads
from forum.read.access import Viewer
from forum.read.pages import Redirect

LISTS = ("posts", "topics", "bookmarks", "upvoted", "downvoted", "watched", "read",
         "followers", "following", "groups")  # fmt: skip


async def by_uid(request: Request) -> Response:
    return await page_of(request, "uid", _user_data)


def _user_data(session: Session, viewer: Viewer, uid: int) -> dict[str, object]:
    return reads.user_data(reads.find_user(session, uid=uid), viewer, now_ms())


async def by_username(request: Request) -> Response:
    username = request.path_params["username"]
    return await page(
        request, lambda s, v: reads.user_data(reads.find_user(s, username=username), v, now_ms())
    )


async def by_email(request: Request) -> Response:
    """Administrators and global moderators only; for others no user has that address."""
    email = request.path_params["email"]

    def work(session, viewer):  # type: ignore[no-untyped-def]
        if not (viewer.admin or viewer.global_moderator):
            raise missing("no-user")
        return reads.user_data(reads.find_user(session, email=email), viewer, now_ms())

    return await page(request, work)


async def profile(request: Request) -> Response:
    slug = request.path_params["userslug"]
    return await page(
        request,
        lambda s, v: reads.profile_page(s, v, reads.find_user(s, userslug=slug), now_ms()),
    )


async def watched_categories(request: Request) -> Response:
    slug, at = request.path_params["userslug"], page_param(request) or 1
    return await page(
        request,
        lambda s, v: reads.categories_page(s, v, reads.find_user(s, userslug=slug), at, now_ms()),
    )


def _list(name: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        slug = request.path_params["userslug"]
        per_page = USERS_PER_PAGE if name in ("followers", "following") else PER_PAGE
        wanted = reads.ListPage(name, page_param(request) or 1, per_page)
        return await page(
            request,
            lambda s, v: reads.list_page(s, v, reads.find_user(s, userslug=slug), wanted, now_ms()),
        )

    return endpoint


async def uid_redirect(request: Request) -> Response:
    """``/api/uid/:uid/<rest>``: the same page under the user's slug."""
    rest = request.path_params.get("rest", "")

    def work(session: Session, viewer: Viewer, uid: int) -> None:
        user = reads.find_user(session, uid=uid)
        raise Redirect(f"/user/{user.userslug}" + (f"/{rest}" if rest else ""))

    return await page_of(request, "uid", work)


async def me_redirect(request: Request) -> Response:
    """``/api/me/<rest>``: the caller's own page of that name (a guest: 401)."""
    rest = request.path_params.get("rest", "")

    def work(session: Session, viewer: Viewer) -> None:
        reads.require_user_viewer(viewer)
        user = reads.find_user(session, uid=viewer.uid)
        raise Redirect(f"/user/{user.userslug}" + (f"/{rest}" if rest else ""))

    return await page(request, work)


async def users_list(request: Request) -> Response:
    at = page_param(request) or 1
    return await page(request, lambda s, v: reads.users_page(s, v, at, USERS_PER_PAGE, now_ms()))


async def self_page(request: Request) -> Response:
    return await page(request, lambda s, v: reads.self_data(s, v, now_ms()))


async def v3_user(request: Request) -> Response:
    return await v3_of(request, "uid", _user_data)


def routes() -> list:  # type: ignore[type-arg]
    found = [
        read_route("/self", self_page, "The caller's own account", auth="any"),
        read_route("/users", users_list, "Users, newest first"),
        read_route("/user/uid/{uid}", by_uid, "A user by uid"),
        read_route("/user/username/{username}", by_username, "A user by username"),
        read_route("/user/email/{email}", by_email, "A user by e-mail (administrators)"),
        read_route("/uid/{uid}", uid_redirect, "A user's profile path (X-Redirect)"),
        read_route("/uid/{uid}/{rest:path}", uid_redirect, "A user's page path (X-Redirect)"),
        read_route("/user/{userslug}", profile, "A user's profile page"),
        read_route("/me", me_redirect, "The caller's profile path (X-Redirect)", auth="any"),
        read_route(
            "/me/{rest:path}", me_redirect, "The caller's page path (X-Redirect)", auth="any"
        ),
    ]
    found.append(
        read_route(
            "/user/{userslug}/categories",
            watched_categories,
            "A user's watch state of each category (the user, administrators)",
        )
    )
    for name in LISTS:
        found.append(read_route(f"/user/{{userslug}}/{name}", _list(name), f"A user's {name}"))
    return found


def v3_routes() -> list:  # type: ignore[type-arg]
    return [v3_route("/users/{uid}", v3_user, "A user's data (private fields: self, admins)")]

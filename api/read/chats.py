"""Chat reads: NodeBB's ``/api/user/:userslug/chats/:roomid?/:index?`` page, the
``/api/chats/:roomid?/:index?`` redirect to it, and the GETs of ``/api/v3/chats``."""

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from api.read.answers import (
    forum_id,
    is_number,
    leading_int,
    now_ms,
    page,
    read_route,
    v3,
    v3_route,
)  # fmt: skip
from forum.errors import bad_request, not_authorised, not_found
from forum.models import User
from forum.read import chats as reads
from forum.read.access import Viewer
from forum.read.pages import Redirect

# chatsAPI.list: perPage defaults to 20, at most 100 (core's controller clamps it).
MAX_ROOMS_PER_PAGE = 100
START = ("start", {"type": "integer", "minimum": 0})
MAX_COUNT = 2**31
ROOM_QUERY = (
    START,
    ("perPage", {"type": "integer", "minimum": 1, "maximum": MAX_ROOMS_PER_PAGE}),
    ("page", {"type": "integer", "minimum": 1}),
    ("uid", {"type": "integer", "minimum": 1}),
)
ChatRead = Callable[[Session, Viewer, int | None], Any]


def _count(request: Request, name: str, default: int) -> int:
    """A count from the query: ``parseInt`` as NodeBB, ``default`` when not a number."""
    found = leading_int(request.query_params.get(name))
    # Bounded: an offset past every row is as empty, and stays a 64-bit integer.
    return default if found is None else max(-MAX_COUNT, min(MAX_COUNT, found))


def _in_room(request: Request, read: ChatRead) -> Callable[[Session, Viewer], Any]:
    """The read of the room ``{roomId}``, after ``ensureLoggedIn`` and ``canChat``;
    a room id that is not a number is 400 ``invalid-data`` (``assert.room``)."""
    raw = request.path_params["roomId"]

    def work(session: Session, viewer: Viewer) -> Any:
        reads.require_chatter(viewer)
        if not is_number(raw):
            raise bad_request("invalid-data")
        return read(session, viewer, forum_id(raw))

    return work


def _mid(request: Request) -> int | None:
    """A message id; anything else names no message (``assert.message``: 400)."""
    return forum_id(request.path_params["mid"])


async def v3_rooms(request: Request) -> Response:
    per_page = min(MAX_ROOMS_PER_PAGE, max(1, _count(request, "perPage", reads.ROOMS_PER_PAGE)))
    at = max(1, _count(request, "page", 1))
    start = max(0, _count(request, "start", (at - 1) * per_page))
    wanted = leading_int(request.query_params.get("uid"))

    def work(session: Session, viewer: Viewer) -> Any:
        uid = viewer.uid if wanted is None or wanted == 0 else wanted
        return reads.recent_rooms(session, viewer, uid, start, start + per_page - 1, now_ms())

    return await v3(request, work)


async def v3_unread(request: Request) -> Response:
    return await v3(request, reads.unread_count)


async def v3_room(request: Request) -> Response:
    return await v3(
        request, _in_room(request, lambda s, v, rid: reads.load_room(s, v, rid, now_ms()))
    )


async def v3_room_users(request: Request) -> Response:
    start = _count(request, "start", 0)
    read: ChatRead = lambda s, v, rid: reads.room_users(s, v, rid, start, now_ms())  # noqa: E731
    return await v3(request, _in_room(request, read))


async def v3_messages(request: Request) -> Response:
    start, wanted = _count(request, "start", 0), leading_int(request.query_params.get("uid"))

    def read(session: Session, viewer: Viewer, room_id: int | None) -> Any:
        uid = wanted or viewer.uid
        return reads.messages_page(session, viewer, room_id, uid, start, now_ms())

    return await v3(request, _in_room(request, read))


async def v3_pinned(request: Request) -> Response:
    start = _count(request, "start", 0)
    read: ChatRead = lambda s, v, rid: reads.pinned_messages(s, v, rid, start, now_ms())  # noqa: E731
    return await v3(request, _in_room(request, read))


async def v3_message(request: Request) -> Response:
    mid = _mid(request)
    read: ChatRead = lambda s, v, rid: reads.get_message(s, v, rid, mid, now_ms())  # noqa: E731
    return await v3(request, _in_room(request, read))


async def v3_raw(request: Request) -> Response:
    mid = _mid(request)
    return await v3(request, _in_room(request, lambda s, v, rid: reads.raw_message(s, v, rid, mid)))


def _room_and_index(request: Request) -> tuple[int | None, int | None, bool]:
    """``:roomid?`` and ``:index?`` as ``parseInt`` reads them; False: not a room."""
    raw_room, raw_index = request.path_params.get("roomid"), request.path_params.get("index")
    room_id = None if raw_room is None else forum_id(raw_room)
    index = None if raw_index is None else leading_int(raw_index)
    return room_id, index, raw_room is None or room_id is not None


async def chats_page(request: Request) -> Response:
    slug = request.path_params["userslug"]
    room_id, index, valid = _room_and_index(request)

    def work(session: Session, viewer: Viewer) -> Any:
        if not valid:
            raise not_found("chat-room-does-not-exist")
        return reads.chats_page(session, viewer, slug, room_id, index, now_ms())

    return await page(request, work)


async def chats_redirect(request: Request) -> Response:
    """``chatsController.redirectToChat``: a logged-in caller's own chats page (a guest
    is refused first, by ``ensureLoggedIn``: 401)."""
    room_id, index, _ = _room_and_index(request)

    def work(session: Session, viewer: Viewer) -> Any:
        if not viewer.logged_in:
            raise not_authorised()
        user = session.get(User, viewer.uid)
        if user is None:
            raise not_found("no-user")
        where = f"/user/{user.userslug}/chats"
        where += f"/{room_id}" if room_id else ""
        where += f"/{index}" if room_id and index else ""
        raise Redirect(where)

    return await page(request, work)


async def message_redirect(request: Request) -> Response:
    """``chatsController.redirectToMessage``: the caller's chats page at that message
    (a guest: 401, ``ensureLoggedIn``)."""
    mid = leading_int(request.path_params["mid"])

    def work(session: Session, viewer: Viewer) -> Any:
        if not viewer.logged_in:
            raise not_authorised()
        user = session.get(User, viewer.uid)
        where = reads.message_place(session, mid) if user is not None and mid else None
        if user is None or where is None:
            raise not_found("invalid-mid")
        room_id, index = where
        raise Redirect(
            f"/user/{user.userslug}/chats/{room_id}" + (f"/{index + 1}" if index else "")
        )

    return await page(request, work)


def routes() -> list:  # type: ignore[type-arg]
    summary = "A user's chat rooms and, with `roomid`, that room's members and messages"
    redirect = "The caller's own chats page (X-Redirect)"
    return [
        read_route("/user/{userslug}/chats", chats_page, summary, auth="any"),
        read_route("/user/{userslug}/chats/{roomid}", chats_page, summary, auth="any"),
        read_route("/user/{userslug}/chats/{roomid}/{index}", chats_page, summary, auth="any"),
        read_route("/chats", chats_redirect, redirect, auth="any", errors=(404,)),
        read_route("/chats/{roomid}", chats_redirect, redirect, auth="any", errors=(404,)),
        read_route("/chats/{roomid}/{index}", chats_redirect, redirect, auth="any",
                   errors=(404,)),
        read_route("/message/{mid}", message_redirect,
                   "The caller's chats page at a message (X-Redirect)", auth="any", errors=(404,)),
    ]  # fmt: skip


def v3_routes() -> list:  # type: ignore[type-arg]
    room = (400, 401, 403, 404)
    return [
        v3_route("/chats", v3_rooms, "The caller's chat rooms, the latest message first",
                 auth="any", errors=(400, 401, 403), query=ROOM_QUERY),
        v3_route("/chats/unread", v3_unread, "How many of the caller's rooms have news for them",
                 auth="any", errors=(401, 403)),
        v3_route("/chats/{roomId}", v3_room, "A chat room: its members and latest messages",
                 auth="any", errors=room),
        v3_route("/chats/{roomId}/users", v3_room_users, "A chat room's members (40 a load)",
                 auth="any", errors=room, query=(START,)),
        v3_route("/chats/{roomId}/messages", v3_messages,
                 "A chat room's messages: 50 from the `start`-th newest, oldest first",
                 auth="any", errors=room, query=(START, ROOM_QUERY[3])),
        v3_route("/chats/{roomId}/messages/pinned", v3_pinned,
                 "A chat room's pinned messages: 50 from `start`, the latest pin first",
                 auth="any", errors=room, query=(START,)),
        v3_route("/chats/{roomId}/messages/{mid}", v3_message, "A chat message",
                 auth="any", errors=room),
        v3_route("/chats/{roomId}/messages/{mid}/raw", v3_raw, "A chat message's text as written",
                 auth="any", errors=room),
    ]  # fmt: skip

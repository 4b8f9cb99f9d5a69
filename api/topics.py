"""Topic routes. v1 and v2 differ in verbs (follow and tags are POST on v1, PUT on v2)
and in what ``DELETE /topics/:tid`` means: a soft delete on v1, a purge on v2."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import command_on, command_route
from api.errors import ApiError
from api.inputs import path_id
from api.routing import DocumentedRoute, route
from api.thumbs import thumb_files
from api.writes import authenticated, submit
from schemas.topics import (
    AddTopicTags,
    ClearTopicTags,
    CoreCreateTopicBody,
    CreateTopic,
    DeleteTopic,
    DeleteTopicEvent,
    EditTopicPost,
    FollowTopic,
    IgnoreTopic,
    LockTopic,
    MarkTopicRead,
    MarkTopicUnread,
    MoveTopic,
    PinTopic,
    PurgeTopic,
    ReplaceTopicTags,
    ReplyTopic,
    RestoreTopic,
    Thumb,
    UnfollowTopic,
    UnignoreTopic,
    UnlockTopic,
    UnpinTopic,
)


async def core_create(request: Request) -> Response:
    """Core's ``POST /topics``: ``thumbs``, paths of files in the upload directory, are
    stored with the topic, each checked as the thumbnail routes check a path."""
    write = await authenticated(request)
    raw = write.body.get("thumbs")
    found: list[Thumb] = []
    if isinstance(raw, list) and raw:  # core: anything but an array is ignored
        if not all(isinstance(one, str) and one for one in raw) or len(raw) > 100:
            raise ApiError(400, "bad-request", key="invalid-data")
        found = await run_in_threadpool(thumb_files, request.app.state.settings, raw)
    return await submit(write, write.command(CreateTopic, timestamp=None, thumbs=tuple(found)))


def core_create_and_reply() -> list[DocumentedRoute]:
    """Core's v3 overwrites ``timestamp`` with now: no backdating (nodebb-core.md §5)."""
    now = ("timestamp",)
    return [
        route("POST", "/topics", core_create, "Create a topic with its first post (and "
              "`thumbs`: paths of uploaded files)", body=CoreCreateTopicBody,
              server_fields=now),
        route("POST", "/topics/{tid}", command_on(ReplyTopic, "tid", timestamp=None),
              "Reply to a topic", body=ReplyTopic, server_fields=("tid", *now), errors=(404,)),
    ]  # fmt: skip


async def delete_event(request: Request) -> Response:
    """An event id must be a number (core removes nothing for any other)."""
    tid = path_id(request, "tid")
    raw = request.path_params["eventId"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        raise ApiError(400, "bad-request", key="invalid-data")
    write = await authenticated(request)
    return await submit(write, DeleteTopicEvent(tid=tid, event_id=int(raw)))


def core_only_routes() -> list[DocumentedRoute]:
    """Core's topic writes the plugin never had."""
    guarded = (403, 404)
    return [
        command_route("PATCH", "/topics/{tid}/tags", AddTopicTags, "Add tags to the topic's",
                      errors=guarded),
        command_route("PUT", "/topics/{tid}/lock", LockTopic,
                      "Lock the topic (category moderators and admins)", errors=guarded),
        command_route("DELETE", "/topics/{tid}/lock", UnlockTopic, "Unlock the topic",
                      errors=guarded),
        command_route("PUT", "/topics/{tid}/ignore", IgnoreTopic,
                      "Ignore the topic (and stop following it): it leaves the unread list",
                      errors=(404,)),
        command_route("DELETE", "/topics/{tid}/ignore", UnignoreTopic,
                      "Stop ignoring (and following) the topic", errors=(404,)),
        command_route("PUT", "/topics/{tid}/move", MoveTopic,
                      "Move the topic to category `cid` (moderators of both, and admins)",
                      errors=guarded),
        route("DELETE", "/topics/{tid}/events/{eventId}", delete_event,
              "Remove an event from the topic's history (moderators and admins)",
              server_fields=("tid", "eventId"), errors=guarded),
        command_route("PUT", "/topics/{tid}/read", MarkTopicRead,
                      "Mark the topic read for the caller", errors=(404,)),
        command_route("DELETE", "/topics/{tid}/read", MarkTopicUnread,
                      "Mark the topic unread for the caller", errors=(404,)),
    ]  # fmt: skip


def routes(version: str) -> list[DocumentedRoute]:
    """v1, v2 (the plugin) and v3 (core: v2's routes, no edit through the topic, and
    ``timestamp`` ignored on create and reply, and core's own)."""
    core = version == "v3"
    v2 = version == "v2" or core
    # 404: unknown topic; 403: not the owner (in the edit/delete window), a moderator of
    # the category or an admin (spec decision 2); 400: the forum's own rules.
    guarded = (403, 404)
    add = "PUT" if v2 else "POST"
    found = core_create_and_reply() + core_only_routes() if core else [
        route("POST", "/topics", command_on(CreateTopic, thumbs=()),
              "Create a topic with its first post", body=CreateTopic, server_fields=("thumbs",)),
        command_route("POST", "/topics/{tid}", ReplyTopic, "Reply to a topic", errors=(404,)),
        command_route(
            "PUT",
            "/topics/{tid}",
            EditTopicPost,
            "Edit post `pid` of the topic (a main post's `title` retitles the topic)",
            errors=guarded,
        ),
    ]  # fmt: skip
    if v2:
        found += [
            command_route(
                "DELETE",
                "/topics/{tid}",
                PurgeTopic,
                "Purge the topic and all its posts",
                errors=guarded,
            ),
            command_route(
                "PUT",
                "/topics/{tid}/state",
                RestoreTopic,
                "Restore a soft-deleted topic",
                errors=guarded,
            ),
            command_route(
                "DELETE",
                "/topics/{tid}/state",
                DeleteTopic,
                "Soft-delete the topic",
                errors=guarded,
            ),
            command_route(
                "PUT",
                "/topics/{tid}/pin",
                PinTopic,
                "Pin the topic (category moderators and admins), until `expiry` if given",
                errors=guarded,
            ),
            command_route(
                "DELETE",
                "/topics/{tid}/pin",
                UnpinTopic,
                "Unpin the topic (category moderators and admins)",
                errors=guarded,
            ),
        ]
    else:
        found.append(
            command_route(
                "DELETE", "/topics/{tid}", DeleteTopic, "Soft-delete the topic", errors=guarded
            )
        )
    return [
        *found,
        command_route(add, "/topics/{tid}/follow", FollowTopic, "Follow the topic",
                      errors=(404,)),
        command_route("DELETE", "/topics/{tid}/follow", UnfollowTopic, "Unfollow the topic",
                      errors=(404,)),
        command_route(add, "/topics/{tid}/tags", ReplaceTopicTags, "Replace the topic's tags",
                      errors=guarded),
        command_route("DELETE", "/topics/{tid}/tags", ClearTopicTags,
                      "Remove all of the topic's tags", errors=guarded),
    ]  # fmt: skip

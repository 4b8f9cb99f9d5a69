"""Topic routes. v1 and v2 differ in verbs (follow and tags are POST on v1, PUT on v2)
and in what ``DELETE /topics/:tid`` means: a soft delete on v1, a purge on v2."""

from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import Endpoint, command_on
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.topics import (
    AddTopicTags,
    ClearTopicTags,
    CreateTopic,
    DeleteTopic,
    EditTopicPost,
    FollowTopic,
    LockTopic,
    MoveTopic,
    PinTopic,
    PurgeTopic,
    ReplaceTopicTags,
    ReplyTopic,
    RestoreTopic,
    TopicCommand,
    UnfollowTopic,
    UnlockTopic,
    UnpinTopic,
)


async def create_topic(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(CreateTopic))


async def create_topic_core(request: Request) -> Response:
    """Core's v3 overwrites ``timestamp`` with now: no backdating (nodebb-core.md §5)."""
    write = await authenticated(request)
    return await submit(write, write.command(CreateTopic, timestamp=None))


def topic_write(model: type[TopicCommand] | type[ReplyTopic] | type[EditTopicPost]) -> Endpoint:
    """An endpoint applying ``model`` to the topic named in the path."""
    return command_on(model, "tid")


reply = topic_write(ReplyTopic)


def routes(version: str) -> list[DocumentedRoute]:
    """v1, v2 (the plugin) and v3 (core: v2's routes, no edit through the topic, and
    ``timestamp`` ignored on create and reply)."""
    core = version == "v3"
    v2 = version == "v2" or core
    tid = ("tid",)
    # 404: unknown topic; 403: not the owner (in the edit/delete window), a moderator of
    # the category or an admin (spec decision 2); 400: the forum's own rules.
    guarded = (403, 404)
    now = ("timestamp",) if core else ()
    found = [
        route(
            "POST",
            "/topics",
            create_topic_core if core else create_topic,
            "Create a topic with its first post",
            body=CreateTopic,
            server_fields=now,
        ),
        route(
            "POST",
            "/topics/{tid}",
            command_on(ReplyTopic, "tid", timestamp=None) if core else reply,
            "Reply to a topic",
            body=ReplyTopic,
            server_fields=tid + now,
            errors=(404,),
        ),
    ]
    if not core:
        found.append(
            route(
                "PUT",
                "/topics/{tid}",
                topic_write(EditTopicPost),
                "Edit post `pid` of the topic (a main post's `title` retitles the topic)",
                body=EditTopicPost,
                server_fields=tid,
                errors=guarded,
            )
        )
    if v2:
        found += [
            route(
                "DELETE",
                "/topics/{tid}",
                topic_write(PurgeTopic),
                "Purge the topic and all its posts",
                body=PurgeTopic,
                server_fields=tid,
                errors=guarded,
            ),
            route(
                "PUT",
                "/topics/{tid}/state",
                topic_write(RestoreTopic),
                "Restore a soft-deleted topic",
                body=RestoreTopic,
                server_fields=tid,
                errors=guarded,
            ),
            route(
                "DELETE",
                "/topics/{tid}/state",
                topic_write(DeleteTopic),
                "Soft-delete the topic",
                body=DeleteTopic,
                server_fields=tid,
                errors=guarded,
            ),
            route(
                "PUT",
                "/topics/{tid}/pin",
                topic_write(PinTopic),
                "Pin the topic (category moderators and admins)",
                body=PinTopic,
                server_fields=tid,
                errors=guarded,
            ),
            route(
                "DELETE",
                "/topics/{tid}/pin",
                topic_write(UnpinTopic),
                "Unpin the topic (category moderators and admins)",
                body=UnpinTopic,
                server_fields=tid,
                errors=guarded,
            ),
        ]
    else:
        found.append(
            route(
                "DELETE",
                "/topics/{tid}",
                topic_write(DeleteTopic),
                "Soft-delete the topic",
                body=DeleteTopic,
                server_fields=tid,
                errors=guarded,
            )
        )
    add = "PUT" if v2 else "POST"
    found += [
        route(
            add,
            "/topics/{tid}/follow",
            topic_write(FollowTopic),
            "Follow the topic",
            body=FollowTopic,
            server_fields=tid,
            errors=(404,),
        ),
        route(
            "DELETE",
            "/topics/{tid}/follow",
            topic_write(UnfollowTopic),
            "Unfollow the topic",
            body=UnfollowTopic,
            server_fields=tid,
            errors=(404,),
        ),
        route(
            add,
            "/topics/{tid}/tags",
            topic_write(ReplaceTopicTags),
            "Replace the topic's tags",
            body=ReplaceTopicTags,
            server_fields=tid,
            errors=guarded,
        ),
        route(
            "DELETE",
            "/topics/{tid}/tags",
            topic_write(ClearTopicTags),
            "Remove all of the topic's tags",
            body=ClearTopicTags,
            server_fields=tid,
            errors=guarded,
        ),
    ]
    if core:
        found += core_only_routes()
    return found  # fmt: skip


def core_only_routes() -> list[DocumentedRoute]:
    """Core's topic writes the plugin never had."""
    tid, guarded = ("tid",), (403, 404)
    return [
        route("PATCH", "/topics/{tid}/tags", topic_write(AddTopicTags),
              "Add tags to the topic's", body=AddTopicTags, server_fields=tid, errors=guarded),
        route("PUT", "/topics/{tid}/lock", topic_write(LockTopic),
              "Lock the topic (category moderators and admins)", body=LockTopic,
              server_fields=tid, errors=guarded),
        route("DELETE", "/topics/{tid}/lock", topic_write(UnlockTopic), "Unlock the topic",
              body=UnlockTopic, server_fields=tid, errors=guarded),
        route("PUT", "/topics/{tid}/move", topic_write(MoveTopic),
              "Move the topic to category `cid` (moderators of both, and admins)",
              body=MoveTopic, server_fields=tid, errors=guarded),
    ]  # fmt: skip

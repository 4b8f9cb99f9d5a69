"""Topic routes. v1 and v2 differ in verbs (follow and tags are POST on v1, PUT on v2)
and in what ``DELETE /topics/:tid`` means: a soft delete on v1, a purge on v2."""

from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import Endpoint, command_on
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.topics import (
    ClearTopicTags,
    CreateTopic,
    DeleteTopic,
    EditTopicPost,
    FollowTopic,
    PinTopic,
    PurgeTopic,
    ReplaceTopicTags,
    ReplyTopic,
    RestoreTopic,
    TopicCommand,
    UnfollowTopic,
    UnpinTopic,
)


async def create_topic(request: Request) -> Response:
    write = await authenticated(request)
    return await submit(write, write.command(CreateTopic))


def topic_write(model: type[TopicCommand] | type[ReplyTopic] | type[EditTopicPost]) -> Endpoint:
    """An endpoint applying ``model`` to the topic named in the path."""
    return command_on(model, "tid")


reply = topic_write(ReplyTopic)


def routes(version: str) -> list[DocumentedRoute]:
    v2 = version == "v2"
    tid = ("tid",)
    # 404: unknown topic; 403: not the owner (in the edit/delete window), a moderator of
    # the category or an admin (spec decision 2); 400: the forum's own rules.
    guarded = (403, 404)
    found = [
        route(
            "POST", "/topics", create_topic, "Create a topic with its first post", body=CreateTopic
        ),
        route(
            "POST",
            "/topics/{tid}",
            reply,
            "Reply to a topic",
            body=ReplyTopic,
            server_fields=tid,
            errors=(404,),
        ),
        route(
            "PUT",
            "/topics/{tid}",
            topic_write(EditTopicPost),
            "Edit post `pid` of the topic (a main post's `title` retitles the topic)",
            body=EditTopicPost,
            server_fields=tid,
            errors=guarded,
        ),
    ]
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
    return found  # fmt: skip


async def create_topic_core(request: Request) -> Response:
    """Core's v3 overwrites ``timestamp`` with now: no backdating (nodebb-core.md §5)."""
    write = await authenticated(request)
    return await submit(write, write.command(CreateTopic, timestamp=None))


def core_routes() -> list[DocumentedRoute]:
    """NodeBB core's ``/api/v3/topics`` writes (nodebb-core.md §1.3)."""
    tid = ("tid",)
    guarded = (403, 404)
    return [
        route("POST", "/topics", create_topic_core, "Create a topic with its first post",
              body=CreateTopic, server_fields=("timestamp",)),
        route("POST", "/topics/{tid}", command_on(ReplyTopic, "tid", timestamp=None),
              "Reply to a topic", body=ReplyTopic, server_fields=("tid", "timestamp"),
              errors=(404,)),
        route("DELETE", "/topics/{tid}", topic_write(PurgeTopic),
              "Purge the topic and all its posts", body=PurgeTopic, server_fields=tid,
              errors=guarded),
        route("PUT", "/topics/{tid}/state", topic_write(RestoreTopic),
              "Restore a soft-deleted topic", body=RestoreTopic, server_fields=tid,
              errors=guarded),
        route("DELETE", "/topics/{tid}/state", topic_write(DeleteTopic), "Soft-delete the topic",
              body=DeleteTopic, server_fields=tid, errors=guarded),
        route("PUT", "/topics/{tid}/pin", topic_write(PinTopic),
              "Pin the topic (category moderators and admins)", body=PinTopic,
              server_fields=tid, errors=guarded),
        route("DELETE", "/topics/{tid}/pin", topic_write(UnpinTopic), "Unpin the topic",
              body=UnpinTopic, server_fields=tid, errors=guarded),
        route("PUT", "/topics/{tid}/follow", topic_write(FollowTopic), "Follow the topic",
              body=FollowTopic, server_fields=tid, errors=(404,)),
        route("DELETE", "/topics/{tid}/follow", topic_write(UnfollowTopic),
              "Unfollow the topic", body=UnfollowTopic, server_fields=tid, errors=(404,)),
        route("PUT", "/topics/{tid}/tags", topic_write(ReplaceTopicTags),
              "Replace the topic's tags", body=ReplaceTopicTags, server_fields=tid,
              errors=guarded),
        route("DELETE", "/topics/{tid}/tags", topic_write(ClearTopicTags),
              "Remove all of the topic's tags", body=ClearTopicTags, server_fields=tid,
              errors=guarded),
    ]  # fmt: skip

"""Topic routes. v1 and v2 differ in verbs (follow and tags are POST on v1, PUT on v2)
and in what ``DELETE /topics/:tid`` means: a soft delete on v1, a purge on v2."""

from api.endpoints import command_route
from api.routing import DocumentedRoute
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
    UnfollowTopic,
    UnpinTopic,
)


def routes(version: str) -> list[DocumentedRoute]:
    v2 = version == "v2"
    # 404: unknown topic; 403: not the owner (in the edit/delete window), a moderator of
    # the category or an admin (spec decision 2); 400: the forum's own rules.
    guarded = (403, 404)
    add = "PUT" if v2 else "POST"
    found = [
        command_route("POST", "/topics", CreateTopic, "Create a topic with its first post"),
        command_route("POST", "/topics/{tid}", ReplyTopic, "Reply to a topic", errors=(404,)),
        command_route(
            "PUT",
            "/topics/{tid}",
            EditTopicPost,
            "Edit post `pid` of the topic (a main post's `title` retitles the topic)",
            errors=guarded,
        ),
    ]
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
                "Pin the topic (category moderators and admins)",
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

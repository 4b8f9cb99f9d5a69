"""Post routes. ``DELETE /posts/:pid`` soft-deletes on v1 and purges on v2; v2 adds the
``/state`` (restore / soft delete) and bookmark routes. An unknown pid is 404 on every
route (v2's "additional validation", applied to v1 too)."""

from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import Endpoint, command_route
from api.errors import ApiError
from api.inputs import path_id
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.posts import (
    BookmarkPost,
    ChangePostOwner,
    ChangePostsOwner,
    DeletePost,
    DeletePostDiff,
    EditPost,
    MovePost,
    PurgePost,
    RestorePost,
    RestorePostDiff,
    UnbookmarkPost,
    UnvotePost,
    VotePost,
)


def _diff_endpoint(model: type[RestorePostDiff | DeletePostDiff], param: str) -> Endpoint:
    """A diff route: ``param``, a version's timestamp, goes to the command as given (the
    worker checks it after the privilege, as core does)."""

    async def endpoint(request: Request) -> Response:
        pid = path_id(request, "pid")
        write = await authenticated(request)
        raw = request.path_params[param]
        if len(raw) > 32:
            raise ApiError(400, "bad-request", key="invalid-data")
        return await submit(write, model(pid=pid, **{param: raw}))

    endpoint.__name__ = endpoint.__qualname__ = f"{model.__name__}_endpoint"
    return endpoint


def core_only_routes() -> list[DocumentedRoute]:
    """Core's post writes the plugin never had."""
    guarded = (403, 404)
    return [
        command_route("PUT", "/posts/{pid}/move", MovePost,
                      "Move a reply to topic `tid` (moderators of both categories, and admins)",
                      errors=guarded),
        command_route("PUT", "/posts/{pid}/owner", ChangePostOwner,
                      "Make user `uid` the post's owner (admins and Global Moderators)",
                      errors=guarded),
        command_route("POST", "/posts/owner", ChangePostsOwner,
                      "Make user `uid` the owner of posts `pids` (admins and Global Moderators)",
                      errors=guarded),
        route("PUT", "/posts/{pid}/diffs/{since}", _diff_endpoint(RestorePostDiff, "since"),
              "Edit the post back to its version of `since` (kept in the history too)",
              server_fields=("pid", "since"), errors=guarded),
        route("DELETE", "/posts/{pid}/diffs/{timestamp}",
              _diff_endpoint(DeletePostDiff, "timestamp"),
              "Drop a version from the post's history (moderators and admins)",
              server_fields=("pid", "timestamp"), errors=guarded),
    ]  # fmt: skip


def routes(version: str) -> list[DocumentedRoute]:
    guarded = (403, 404)
    # Core (v3) votes and bookmarks with PUT where the plugin POSTs.
    set_verb = "PUT" if version == "v3" else "POST"
    found = [
        command_route(
            "PUT",
            "/posts/{pid}",
            EditPost,
            "Edit a post (on a main post, `title` retitles the topic and `tags` retag it)",
            errors=guarded,
        ),
        command_route(
            set_verb,
            "/posts/{pid}/vote",
            VotePost,
            "Vote: `delta` > 0 up, < 0 down, 0 takes the vote back",
            errors=(404,),
        ),
        command_route(
            "DELETE", "/posts/{pid}/vote", UnvotePost, "Take the vote back", errors=(404,)
        ),
    ]
    if version == "v1":
        found.append(
            command_route(
                "DELETE", "/posts/{pid}", DeletePost, "Soft-delete a post", errors=guarded
            )
        )
        return found
    return [
        *found,
        *(core_only_routes() if version == "v3" else []),
        command_route("DELETE", "/posts/{pid}", PurgePost,
                      "Purge a post (a main post only while it is the topic's only post)",
                      errors=guarded),
        command_route("PUT", "/posts/{pid}/state", RestorePost, "Restore a soft-deleted post",
                      errors=guarded),
        command_route("DELETE", "/posts/{pid}/state", DeletePost, "Soft-delete a post",
                      errors=guarded),
        command_route(set_verb, "/posts/{pid}/bookmark", BookmarkPost, "Bookmark a post",
                      errors=(404,)),
        command_route("DELETE", "/posts/{pid}/bookmark", UnbookmarkPost, "Remove a bookmark",
                      errors=(404,)),
    ]  # fmt: skip

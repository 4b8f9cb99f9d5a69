"""Post routes. ``DELETE /posts/:pid`` soft-deletes on v1 and purges on v2; v2 adds the
``/state`` (restore / soft delete) and bookmark routes. An unknown pid is 404 on every
route (v2's "additional validation", applied to v1 too)."""

from api.endpoints import command_route
from api.routing import DocumentedRoute
from schemas.posts import (
    BookmarkPost,
    DeletePost,
    EditPost,
    PurgePost,
    RestorePost,
    UnbookmarkPost,
    UnvotePost,
    VotePost,
)


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

"""Post routes. ``DELETE /posts/:pid`` soft-deletes on v1 and purges on v2; v2 adds the
``/state`` (restore / soft delete) and bookmark routes. An unknown pid is 404 on every
route (v2's "additional validation", applied to v1 too)."""

from api.endpoints import Endpoint, command_on
from api.routing import DocumentedRoute, route
from schemas.posts import (
    BookmarkPost,
    DeletePost,
    EditPost,
    PostCommand,
    PurgePost,
    RestorePost,
    UnbookmarkPost,
    UnvotePost,
    VotePost,
)


def post_write(model: type[PostCommand]) -> Endpoint:
    """An endpoint applying ``model`` to the post named in the path."""
    return command_on(model, "pid")


def routes(version: str) -> list[DocumentedRoute]:
    pid = ("pid",)
    guarded = (403, 404)
    # Core (v3) votes and bookmarks with PUT where the plugin POSTs.
    set_verb = "PUT" if version == "v3" else "POST"
    found = [
        route("PUT", "/posts/{pid}", post_write(EditPost),
              "Edit a post (on a main post, `title` retitles the topic and `tags` retag it)",
              body=EditPost, server_fields=pid, errors=guarded),
        route(set_verb, "/posts/{pid}/vote", post_write(VotePost),
              "Vote: `delta` > 0 up, < 0 down, 0 takes the vote back", body=VotePost,
              server_fields=pid, errors=(404,)),
        route("DELETE", "/posts/{pid}/vote", post_write(UnvotePost), "Take the vote back",
              body=UnvotePost, server_fields=pid, errors=(404,)),
    ]  # fmt: skip
    if version == "v1":
        found.append(
            route("DELETE", "/posts/{pid}", post_write(DeletePost), "Soft-delete a post",
                  body=DeletePost, server_fields=pid, errors=guarded)
        )  # fmt: skip
        return found
    return [
        *found,
        route("DELETE", "/posts/{pid}", post_write(PurgePost),
              "Purge a post (a main post only while it is the topic's only post)",
              body=PurgePost, server_fields=pid, errors=guarded),
        route("PUT", "/posts/{pid}/state", post_write(RestorePost),
              "Restore a soft-deleted post", body=RestorePost, server_fields=pid,
              errors=guarded),
        route("DELETE", "/posts/{pid}/state", post_write(DeletePost), "Soft-delete a post",
              body=DeletePost, server_fields=pid, errors=guarded),
        route(set_verb, "/posts/{pid}/bookmark", post_write(BookmarkPost), "Bookmark a post",
              body=BookmarkPost, server_fields=pid, errors=(404,)),
        route("DELETE", "/posts/{pid}/bookmark", post_write(UnbookmarkPost),
              "Remove a bookmark", body=UnbookmarkPost, server_fields=pid, errors=(404,)),
    ]  # fmt: skip

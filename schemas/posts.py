import math
from typing import Annotated, Literal

from pydantic import AfterValidator

from schemas.commands import Command, Id, Text
from schemas.topics import Tags, Title


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class PostCommand(Command):
    """A write naming only its post (from the path)."""

    pid: Id


class EditPost(PostCommand):
    """Edit a post; on the main post ``title`` retitles the topic and ``tags`` retag it."""

    kind: Literal["posts.edit"] = "posts.edit"
    content: Text
    title: Title | None = None
    tags: Tags | None = None


class DeletePost(PostCommand):
    """Soft delete (v1 ``DELETE /posts/:pid``, v2 ``DELETE /posts/:pid/state``)."""

    kind: Literal["posts.delete"] = "posts.delete"


class RestorePost(PostCommand):
    kind: Literal["posts.restore"] = "posts.restore"


class PurgePost(PostCommand):
    """v2 ``DELETE /posts/:pid``: remove the post for good."""

    kind: Literal["posts.purge"] = "posts.purge"


class VotePost(PostCommand):
    """``delta`` > 0 upvotes, < 0 downvotes, 0 takes the vote back."""

    kind: Literal["posts.vote"] = "posts.vote"
    delta: Annotated[float, AfterValidator(_finite)]


class UnvotePost(PostCommand):
    kind: Literal["posts.unvote"] = "posts.unvote"


class BookmarkPost(PostCommand):
    kind: Literal["posts.bookmark"] = "posts.bookmark"


class UnbookmarkPost(PostCommand):
    kind: Literal["posts.unbookmark"] = "posts.unbookmark"

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

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


class MovePost(PostCommand):
    """Core's ``PUT /posts/{pid}/move``: the post (a reply) to topic ``tid``."""

    kind: Literal["posts.move"] = "posts.move"
    tid: Id


class ChangePostOwner(PostCommand):
    """Core's ``PUT /posts/{pid}/owner``: the post is user ``uid``'s from now on."""

    kind: Literal["posts.owner"] = "posts.owner"
    uid: Id


class ChangePostsOwner(Command):
    """Core's ``POST /posts/owner``: each of ``pids`` is user ``uid``'s from now on."""

    kind: Literal["posts.owner.many"] = "posts.owner.many"
    pids: Annotated[tuple[Id, ...], Field(min_length=1, max_length=500)]
    uid: Id


# A version's timestamp as the path gives it: checked after the privilege, as core's
# getValidatedTimestamp is (``forum.diffs.timestamp_of``).
VersionStamp = Annotated[str, Field(max_length=32)]


class RestorePostDiff(PostCommand):
    """Core's ``PUT /posts/{pid}/diffs/{since}``: edit the post back to that version."""

    kind: Literal["posts.diffs.restore"] = "posts.diffs.restore"
    since: VersionStamp


class DeletePostDiff(PostCommand):
    """Core's ``DELETE /posts/{pid}/diffs/{timestamp}``: drop a version from the history."""

    kind: Literal["posts.diffs.delete"] = "posts.diffs.delete"
    timestamp: VersionStamp

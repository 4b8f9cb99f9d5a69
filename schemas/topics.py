from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from schemas.commands import Command, Id, NonEmpty, Text, Timestamp


def _tag_list(value: object) -> object:
    """Tags as an array, or one string (a form field), which may be comma-separated:
    NodeBB stores tags comma-joined, so a comma can never be part of a tag."""
    if isinstance(value, str):
        return tuple(part for part in value.split(",") if part.strip())
    return value


Tag = Annotated[str, Field(max_length=255)]
Tags = Annotated[tuple[Tag, ...], Field(max_length=100), BeforeValidator(_tag_list)]
Title = Annotated[str, Field(max_length=1024)]


ThumbPath = Annotated[str, Field(min_length=1, max_length=1024)]


class Thumb(BaseModel):
    """An uploaded thumbnail: its path in the upload directory, name and url."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: ThumbPath
    name: Annotated[str, Field(max_length=255)]
    url: Annotated[str, Field(max_length=2048)]


class CreateTopic(Command):
    kind: Literal["topics.create"] = "topics.create"
    cid: Id
    title: Annotated[NonEmpty, Field(max_length=1024)]
    content: Text
    tags: Tags = ()
    timestamp: Timestamp | None = None
    # Set by the API from the files it found in the upload directory, never the body's.
    thumbs: Annotated[tuple[Thumb, ...], Field(max_length=100)] = ()


CoreCreateTopicBody = create_model(
    "CoreCreateTopicBody",
    __doc__=(
        "Core's ``POST /topics`` body, as documented: ``CreateTopic``'s fields, with\n"
        "``thumbs`` as paths of files in the upload directory (the API turns them into\n"
        "``CreateTopic.thumbs``)."
    ),
    **{
        name: (field.annotation, field)
        for name, field in CreateTopic.model_fields.items()
        if name not in ("kind", "thumbs")
    },
    thumbs=(tuple[ThumbPath, ...], Field(default=(), max_length=100)),
)


class ReplyTopic(Command):
    kind: Literal["topics.reply"] = "topics.reply"
    tid: Id
    content: Text
    to_pid: Annotated[Id | None, Field(alias="toPid")] = None
    timestamp: Timestamp | None = None


class EditTopicPost(Command):
    """``PUT /topics/:tid``: edit post ``pid``, which must belong to topic ``tid``."""

    kind: Literal["topics.edit"] = "topics.edit"
    tid: Id
    pid: Id
    content: Text
    title: Title | None = None
    tags: Tags | None = None


class TopicCommand(Command):
    """A write naming only its topic (from the path)."""

    tid: Id


class DeleteTopic(TopicCommand):
    """Soft delete (v1 ``DELETE /topics/:tid``, v2 ``DELETE /topics/:tid/state``)."""

    kind: Literal["topics.delete"] = "topics.delete"


class RestoreTopic(TopicCommand):
    kind: Literal["topics.restore"] = "topics.restore"


class PurgeTopic(TopicCommand):
    """v2 ``DELETE /topics/:tid``: the topic and all its posts, for good."""

    kind: Literal["topics.purge"] = "topics.purge"


class FollowTopic(TopicCommand):
    kind: Literal["topics.follow"] = "topics.follow"


class UnfollowTopic(TopicCommand):
    kind: Literal["topics.unfollow"] = "topics.unfollow"


class IgnoreTopic(TopicCommand):
    kind: Literal["topics.ignore"] = "topics.ignore"


class UnignoreTopic(TopicCommand):
    """Core's ``DELETE /topics/{tid}/ignore``: the same as unfollowing."""

    kind: Literal["topics.unignore"] = "topics.unignore"


class MarkTopicRead(TopicCommand):
    """Core's ``PUT /topics/{tid}/read``: the caller has read the topic."""

    kind: Literal["topics.read"] = "topics.read"


class MarkTopicUnread(TopicCommand):
    kind: Literal["topics.unread"] = "topics.unread"


class ReplaceTopicTags(TopicCommand):
    """Replace the tag set (spec decision 6); clearing has its own route."""

    kind: Literal["topics.tags.replace"] = "topics.tags.replace"
    tags: Annotated[Tags, Field(min_length=1)]


class ClearTopicTags(TopicCommand):
    kind: Literal["topics.tags.clear"] = "topics.tags.clear"


class PinTopic(TopicCommand):
    """``expiry`` (core's v3): when the pin ends by itself, a ms timestamp in the future."""

    kind: Literal["topics.pin"] = "topics.pin"
    expiry: Timestamp | None = None


class UnpinTopic(TopicCommand):
    kind: Literal["topics.unpin"] = "topics.unpin"


class AddTopicTags(TopicCommand):
    """Core's ``PATCH /topics/{tid}/tags``: add to the tag set."""

    kind: Literal["topics.tags.add"] = "topics.tags.add"
    tags: Annotated[Tags, Field(min_length=1)]


class LockTopic(TopicCommand):
    kind: Literal["topics.lock"] = "topics.lock"


class UnlockTopic(TopicCommand):
    kind: Literal["topics.unlock"] = "topics.unlock"


class MoveTopic(TopicCommand):
    """Core's ``PUT /topics/{tid}/move``: to category ``cid``."""

    kind: Literal["topics.move"] = "topics.move"
    cid: Id


class AddTopicThumbs(TopicCommand):
    """Core's ``POST /topics/{tid}/thumbs``: files the API stored (never the client's)."""

    kind: Literal["topics.thumbs.add"] = "topics.thumbs.add"
    thumbs: Annotated[tuple[Thumb, ...], Field(min_length=1, max_length=100)]


class DeleteTopicThumbs(TopicCommand):
    kind: Literal["topics.thumbs.delete"] = "topics.thumbs.delete"
    paths: Annotated[tuple[ThumbPath, ...], Field(min_length=1, max_length=100)]


class ReorderTopicThumbs(TopicCommand):
    """Core's ``PUT /topics/{tid}/thumbs/order``: ``path`` to index ``order``."""

    kind: Literal["topics.thumbs.order"] = "topics.thumbs.order"
    path: ThumbPath
    order: Annotated[int, Field(ge=-(2**31), lt=2**31)]


class DeleteTopicEvent(TopicCommand):
    """Core's ``DELETE /topics/{tid}/events/{eventId}``."""

    kind: Literal["topics.events.delete"] = "topics.events.delete"
    event_id: Annotated[Id, Field(alias="eventId")]

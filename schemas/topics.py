from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command, Id, NonEmpty, Text, Timestamp

Tag = Annotated[str, Field(max_length=255)]


class CreateTopic(Command):
    kind: Literal["topics.create"] = "topics.create"
    cid: Id
    title: Annotated[NonEmpty, Field(max_length=1024)]
    content: Text
    tags: Annotated[tuple[Tag, ...], Field(max_length=100)] = ()
    timestamp: Timestamp | None = None


class ReplyTopic(Command):
    kind: Literal["topics.reply"] = "topics.reply"
    tid: Id
    content: Text
    to_pid: Annotated[Id | None, Field(alias="toPid")] = None
    timestamp: Timestamp | None = None

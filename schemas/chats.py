from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command, Id, Text, Timestamp


class SendChat(Command):
    """A chat message to ``uid``: a new room (v1, or v2 without ``roomId``) or that room."""

    kind: Literal["chats.send"] = "chats.send"
    uid: Id
    # The forum enforces NodeBB's 1000-character limit with its own error key.
    message: Annotated[Text, Field(max_length=65535)]
    room_id: Annotated[Id | None, Field(alias="roomId")] = None
    timestamp: Timestamp | None = None
    quiet: bool = False


class SendToRoom(Command):
    """Core's ``POST /chats/{roomId}``: a message to a room the sender is in."""

    kind: Literal["chats.room.send"] = "chats.room.send"
    room_id: Annotated[Id, Field(alias="roomId")]
    message: Annotated[Text, Field(max_length=65535)]

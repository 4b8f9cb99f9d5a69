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


# Core's rooms. A list of uids is at most this long (core's maximumUsersInChatRoom is 0:
# unlimited; a bound keeps one request's work bounded).
Uids = Annotated[list[Id], Field(max_length=1000)]
RoomId = Annotated[Id, Field(alias="roomId")]


class CreateRoom(Command):
    """Core's ``POST /chats``: a room with the caller and ``uids``."""

    kind: Literal["chats.room.create"] = "chats.room.create"
    # None is core's no-users-selected (the forum says so): the document states it.
    uids: Annotated[Uids, Field(json_schema_extra={"minItems": 1})]
    room_name: Annotated[str | None, Field(alias="roomName", max_length=1024)] = None


class UpdateRoom(Command):
    """Core's ``PUT /chats/{roomId}``: rename the room (``name``), answer it."""

    kind: Literal["chats.room.update"] = "chats.room.update"
    room_id: RoomId
    name: Annotated[str | None, Field(max_length=1024)] = None


class AddRoomUsers(Command):
    kind: Literal["chats.room.add_users"] = "chats.room.add_users"
    room_id: RoomId
    uids: Uids


class RemoveRoomUsers(Command):
    """Leave (the caller's own uid alone), or remove users (the room's owners)."""

    kind: Literal["chats.room.remove_users"] = "chats.room.remove_users"
    room_id: RoomId
    uids: Uids


class AddRoomOwner(Command):
    kind: Literal["chats.room.add_owner"] = "chats.room.add_owner"
    room_id: RoomId
    uid: Id


class RemoveRoomOwner(Command):
    kind: Literal["chats.room.remove_owner"] = "chats.room.remove_owner"
    room_id: RoomId
    uid: Id


class DeleteRoom(Command):
    """Core's ``DELETE /admin/chats/{roomId}``."""

    kind: Literal["chats.room.delete"] = "chats.room.delete"
    room_id: RoomId


class EditChatMessage(Command):
    kind: Literal["chats.message.edit"] = "chats.message.edit"
    room_id: RoomId
    mid: Id
    message: Annotated[Text, Field(max_length=65535)]


class DeleteChatMessage(Command):
    kind: Literal["chats.message.delete"] = "chats.message.delete"
    room_id: RoomId
    mid: Id


class RestoreChatMessage(Command):
    kind: Literal["chats.message.restore"] = "chats.message.restore"
    room_id: RoomId
    mid: Id


class PinChatMessage(Command):
    kind: Literal["chats.message.pin"] = "chats.message.pin"
    room_id: RoomId
    mid: Id


class UnpinChatMessage(Command):
    kind: Literal["chats.message.unpin"] = "chats.message.unpin"
    room_id: RoomId
    mid: Id


class MarkChatUnread(Command):
    """Core's ``PUT /chats/{roomId}/state``: the caller marks the room unread."""

    kind: Literal["chats.unread"] = "chats.unread"
    room_id: RoomId


class MarkChatRead(Command):
    """Core's ``DELETE /chats/{roomId}/state``: the caller has read the room."""

    kind: Literal["chats.read"] = "chats.read"
    room_id: RoomId

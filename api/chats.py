"""Core's chat room routes (``/api/v3/chats``). The plugin's chat route, a message to a
user, is ``POST /users/{uid}/chats`` (``api/users.py``)."""

from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import command_on
from api.inputs import path_id
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from schemas.chats import (
    AddRoomOwner,
    AddRoomUsers,
    CreateRoom,
    DeleteChatMessage,
    DeleteRoom,
    EditChatMessage,
    MarkChatRead,
    MarkChatUnread,
    PinChatMessage,
    RemoveRoomOwner,
    RemoveRoomUsers,
    RestoreChatMessage,
    SendToRoom,
    UnpinChatMessage,
    UpdateRoom,
)


async def remove_one_user(request: Request) -> Response:
    """``DELETE /chats/{roomId}/users/{uid}``: the list route with that one uid."""
    room_id, uid = path_id(request, "roomId"), path_id(request, "uid")
    write = await authenticated(request)
    return await submit(write, RemoveRoomUsers(room_id=room_id, uids=[uid]))


def core_routes() -> list[DocumentedRoute]:
    room, message, owner = ("room_id",), ("room_id", "mid"), ("room_id", "uid")
    found, message_found = (403, 404), (403, 404)
    return [
        route("POST", "/chats", command_on(CreateRoom), "Create a room with `uids`",
              body=CreateRoom),
        route("POST", "/chats/{roomId}", command_on(SendToRoom, "roomId"),
              "Send `message` to a room the caller is in", body=SendToRoom,
              server_fields=room, errors=found),
        route("PUT", "/chats/{roomId}", command_on(UpdateRoom, "roomId"),
              "Rename the room (`name`: its owners); answers the room", body=UpdateRoom,
              server_fields=room, errors=found),
        route("POST", "/chats/{roomId}/users", command_on(AddRoomUsers, "roomId"),
              "Add `uids` to the room (any member)", body=AddRoomUsers, server_fields=room,
              errors=found),
        route("DELETE", "/chats/{roomId}/users", command_on(RemoveRoomUsers, "roomId"),
              "Leave the room (the caller's uid alone), or remove `uids` (owners)",
              body=RemoveRoomUsers, server_fields=room, errors=found),
        route("DELETE", "/chats/{roomId}/users/{uid}", remove_one_user,
              "Leave the room, or remove the user (owners)", errors=found),
        route("PUT", "/chats/{roomId}/owners/{uid}", command_on(AddRoomOwner, "roomId", "uid"),
              "Make a member an owner of the room (owners, admins)", body=AddRoomOwner,
              server_fields=owner, errors=found),
        route("DELETE", "/chats/{roomId}/owners/{uid}",
              command_on(RemoveRoomOwner, "roomId", "uid"),
              "Remove a member as an owner of the room (owners, admins)", body=RemoveRoomOwner,
              server_fields=owner, errors=found),
        route("PUT", "/chats/{roomId}/messages/{mid}",
              command_on(EditChatMessage, "roomId", "mid"),
              "Edit a message (its sender, admins, global moderators)", body=EditChatMessage,
              server_fields=message, errors=message_found),
        route("DELETE", "/chats/{roomId}/messages/{mid}",
              command_on(DeleteChatMessage, "roomId", "mid"),
              "Delete a message (its sender, admins, global moderators)",
              body=DeleteChatMessage, server_fields=message, errors=message_found),
        route("POST", "/chats/{roomId}/messages/{mid}",
              command_on(RestoreChatMessage, "roomId", "mid"),
              "Restore a deleted message (its sender, admins, global moderators)",
              body=RestoreChatMessage, server_fields=message, errors=message_found),
        route("PUT", "/chats/{roomId}/state", command_on(MarkChatUnread, "roomId"),
              "Mark the room unread for the caller", body=MarkChatUnread, server_fields=room,
              errors=(404,)),
        route("DELETE", "/chats/{roomId}/state", command_on(MarkChatRead, "roomId"),
              "Mark the room read for the caller", body=MarkChatRead, server_fields=room,
              errors=(404,)),
        route("PUT", "/chats/{roomId}/messages/{mid}/pin",
              command_on(PinChatMessage, "roomId", "mid"),
              "Pin a message (the room's owners, admins, global moderators)",
              body=PinChatMessage, server_fields=message, errors=message_found),
        route("DELETE", "/chats/{roomId}/messages/{mid}/pin",
              command_on(UnpinChatMessage, "roomId", "mid"), "Unpin a message",
              body=UnpinChatMessage, server_fields=message, errors=message_found),
        route("DELETE", "/admin/chats/{roomId}", command_on(DeleteRoom, "roomId"),
              "Delete a room the admin is in, with its messages", auth="admin",
              body=DeleteRoom, server_fields=room, errors=found),
    ]  # fmt: skip

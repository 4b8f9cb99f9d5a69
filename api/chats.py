"""Core's chat room routes (``/api/v3/chats``). The plugin's chat route, a message to a
user, is ``POST /users/{uid}/chats`` (``api/users.py``)."""

from api.endpoints import command_on
from api.routing import DocumentedRoute, route
from schemas.chats import SendToRoom


def core_routes() -> list[DocumentedRoute]:
    return [
        route("POST", "/chats/{roomId}", command_on(SendToRoom, "roomId"),
              "Send `message` to a room the caller is in", body=SendToRoom,
              server_fields=("room_id",), errors=(403, 404)),
    ]  # fmt: skip

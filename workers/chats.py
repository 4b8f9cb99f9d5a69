from sqlalchemy.orm import Session

from forum.chats import send_message, send_to_room
from schemas.chats import SendChat, SendToRoom
from workers.registry import handles


@handles(SendChat)
def apply_send_chat(session: Session, actor: int, command: SendChat) -> dict[str, object]:
    return send_message(
        session, actor, command.uid, command.message,
        room_id=command.room_id, timestamp=command.timestamp, quiet=command.quiet,
    )  # fmt: skip


@handles(SendToRoom)
def apply_send_to_room(session: Session, actor: int, command: SendToRoom) -> dict[str, object]:
    return send_to_room(session, actor, command.room_id, command.message)

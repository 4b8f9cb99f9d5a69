from sqlalchemy.orm import Session

from forum.chats import send_message
from schemas.chats import SendChat
from workers.registry import handles


@handles(SendChat)
def apply_send_chat(session: Session, actor: int, command: SendChat) -> dict[str, object]:
    return send_message(
        session, actor, command.uid, command.message,
        room_id=command.room_id, timestamp=command.timestamp, quiet=command.quiet,
    )  # fmt: skip

"""Chat messages: a new room per message (v1), or an existing room (v2 ``roomId``)."""

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from forum.clock import iso, now_ms
from forum.errors import bad_request, forbidden, not_found
from forum.models import ChatMessage, ChatRoom, ChatRoomMember, User
from forum.users import check_muted, get_poster, get_user

# NodeBB's maximumChatMessageLength default (install/data/defaults.json).
MAXIMUM_CHAT_MESSAGE_LENGTH = 1000


def send_message(
    session: Session,
    actor: int,
    touid: int,
    content: str,
    *,
    room_id: int | None = None,
    timestamp: int | None = None,
    quiet: bool = False,
) -> dict[str, object]:
    """``actor`` messages ``touid`` (NodeBB's ``canMessageUser`` then ``sendMessage``).

    ``quiet`` is accepted for compatibility; forumq sends no chat notifications."""
    sender = get_poster(session, actor)  # exists and is not banned
    get_user(session, touid)
    if actor == touid:
        raise bad_request("cant-chat-with-yourself")
    _check_message(content)
    sent = timestamp or now_ms()
    if room_id is None:
        room = ChatRoom(owner_uid=actor, created_at=sent, message_count=0)
        session.add(room)
        session.flush()
        session.add_all(
            [
                ChatRoomMember(room_id=room.room_id, uid=uid, joined_at=sent)
                for uid in (actor, touid)
            ]
        )
        room_id = room.room_id
    else:
        _check_member(session, actor, room_id)
        check_muted(sender)  # canMessageRoom's check (a new room is canMessageUser's)
    return _post(session, sender, room_id, content, sent)


def send_to_room(session: Session, actor: int, room_id: int, content: str) -> dict[str, object]:
    """Core's ``POST /chats/{roomId}``: a message to a room the actor is in."""
    sender = get_poster(session, actor)
    _check_message(content)
    _check_member(session, actor, room_id)
    check_muted(sender)
    return _post(session, sender, room_id, content, now_ms())


def _check_message(content: str) -> None:
    if not content.strip():
        raise bad_request("invalid-chat-message")
    if len(content) > MAXIMUM_CHAT_MESSAGE_LENGTH:
        raise bad_request("chat-message-too-long", MAXIMUM_CHAT_MESSAGE_LENGTH)


def _check_member(session: Session, actor: int, room_id: int) -> None:
    if session.get(ChatRoom, room_id) is None:
        raise not_found("no-chat-room")
    member = exists().where(ChatRoomMember.room_id == room_id, ChatRoomMember.uid == actor)
    if not session.scalar(select(member)):
        raise forbidden("no-privileges")


def _post(
    session: Session, sender: User, room_id: int, content: str, sent: int
) -> dict[str, object]:
    message = ChatMessage(room_id=room_id, uid=sender.uid, content=content, timestamp=sent)
    session.add(message)
    session.execute(
        update(ChatRoom)
        .where(ChatRoom.room_id == room_id)
        .values(message_count=ChatRoom.message_count + 1)
    )
    session.flush()
    return message_data(message, sender)


def message_data(message: ChatMessage, sender: User) -> dict[str, object]:
    """The message object NodeBB's ``Messaging.sendMessage`` returns."""
    return {
        "mid": message.mid,
        "messageId": message.mid,
        "roomId": message.room_id,
        "fromuid": message.uid,
        "content": message.content,
        "timestamp": message.timestamp,
        "timestampISO": iso(message.timestamp),
        "deleted": 0,
        "system": 0,
        "edited": 0,
        "fromUser": {
            "uid": sender.uid,
            "username": sender.username,
            "userslug": sender.userslug,
        },
        "self": 1,
        "newSet": True,
    }

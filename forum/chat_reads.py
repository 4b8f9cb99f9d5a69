"""Per-member chat read markers: which rooms have news for a user (NodeBB's
``uid:<uid>:chat:rooms:unread``).

NodeBB marks a room unread for every member but the sender when a message is sent,
read for the sender, and as a member asks (core's ``PUT /chats/{roomId}/state``:
unread, ``DELETE``: read; its client sends the latter when a room is opened). forumq
keeps, per member and room, the latest message they read (``read_mid``) and whether
they marked the room unread since; a room is unread for a member when they marked it
so, or when the latest message they can see (sent since they joined) is someone
else's and newer than the one they read. Sending a message reads the room. The rule
is here once, in SQL (``unread_clause``)."""

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forum.errors import not_found
from forum.models import ChatMessage, ChatRead, ChatRoom, ChatRoomMember
from forum.users import get_user


def _latest_mid(session: Session, room_id: int) -> int:
    found = session.scalar(select(func.max(ChatMessage.mid)).where(ChatMessage.room_id == room_id))
    return found or 0


def _upsert(session: Session, uid: int, room_id: int, read_mid: int, unread: bool) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ChatRead).values(
        uid=uid, room_id=room_id, read_mid=read_mid, marked_unread=unread
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[ChatRead.uid, ChatRead.room_id],
            set_={
                "read_mid": insert.excluded.read_mid,
                "marked_unread": insert.excluded.marked_unread,
            },
        )
    )


def record_sent(session: Session, uid: int, room_id: int, mid: int) -> None:
    """The sender of message ``mid`` has read the room (``Messaging.markRead`` on send)."""
    _upsert(session, uid, room_id, mid, False)


def mark(session: Session, actor: int, room_id: int, unread: bool) -> dict[str, Any]:
    """Core's ``PUT`` (unread) and ``DELETE`` (read) ``/chats/{roomId}/state``
    (``chatsAPI.mark``): any existing room, as core asserts only that; a room the
    caller is not in never counts for them."""
    get_user(session, actor)
    if session.get(ChatRoom, room_id) is None:
        raise not_found("chat-room-does-not-exist")
    _upsert(session, actor, room_id, _latest_mid(session, room_id), unread)
    return {}


def unread_clause(uid: int) -> ColumnElement[bool]:
    """A WHERE clause on ``ChatRoomMember`` (the member ``uid``'s row of a room): the
    room is unread for them. Without a marker (rooms older than markers), their own
    latest message there is how far they read."""
    room = ChatRoomMember.room_id
    marker = and_(ChatRead.uid == uid, ChatRead.room_id == room)
    read_mid = select(ChatRead.read_mid).where(marker).correlate(ChatRoomMember)
    marked = select(ChatRead.marked_unread).where(marker).correlate(ChatRoomMember)
    own = (
        select(func.max(ChatMessage.mid))
        .where(ChatMessage.room_id == room, ChatMessage.uid == uid)
        .correlate(ChatRoomMember)
    )
    news = (
        select(ChatMessage.mid)
        .where(
            ChatMessage.room_id == room,
            ChatMessage.timestamp >= ChatRoomMember.joined_at,
            ChatMessage.uid != uid,
            ChatMessage.mid > func.coalesce(read_mid.scalar_subquery(), own.scalar_subquery(), 0),
        )
        .correlate(ChatRoomMember)
        .exists()
    )
    return or_(marked.scalar_subquery().is_(True), news)


def unread_rooms(session: Session, uid: int, room_ids: list[int]) -> set[int]:
    """Of ``room_ids`` (rooms ``uid`` is in), those unread for them (one statement)."""
    if not room_ids:
        return set()
    query = select(ChatRoomMember.room_id).where(
        ChatRoomMember.uid == uid, ChatRoomMember.room_id.in_(room_ids), unread_clause(uid)
    )
    return set(session.scalars(query))


def unread_count(session: Session, uid: int) -> int:
    """``Messaging.getUnreadCount``: the rooms of ``uid`` with news for them."""
    query = select(func.count()).where(ChatRoomMember.uid == uid, unread_clause(uid))
    return session.scalar(query.select_from(ChatRoomMember)) or 0

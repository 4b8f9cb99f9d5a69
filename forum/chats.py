"""Chat rooms and messages: a new room per message (v1), an existing room (v2 ``roomId``),
and core's rooms (create, rename, members, owners) and message edit, delete, restore, pin.

Core's room rules (``src/messaging/rooms.js``, ``src/api/chats.js``): any member adds
users; owners rename the room and remove others; whoever leaves last as owner hands
ownership to the longest-standing member; a message is edited or deleted by its sender,
an admin or a global moderator; owners (and admins, global moderators) pin."""

from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from forum import chat_reads
from forum.clock import iso, now_ms
from forum.errors import bad_request, forbidden, not_found
from forum.models import ChatMessage, ChatRoom, ChatRoomMember, User
from forum.privileges import GLOBAL_MODERATORS, in_group, is_admin, require_admin
from forum.read.objects import user_summary
from forum.users import check_muted, get_poster, get_user

# NodeBB's defaults (install/data/defaults.json).
MAXIMUM_CHAT_MESSAGE_LENGTH = 1000
MAXIMUM_CHAT_ROOM_NAME_LENGTH = 50
# notificationSetting of a private room: every message notifies (ALLMESSAGES).
ALL_MESSAGES = 2


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
        room_id = _new_room(session, actor, [touid], "", sent)
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


def _check_member(session: Session, actor: int, room_id: int) -> ChatRoom:
    """Core's ``assert.room``: the room exists (404) and the actor is in it (403)."""
    room = session.get(ChatRoom, room_id, with_for_update=True)
    if room is None:
        raise not_found("chat-room-does-not-exist")
    if _member(session, room_id, actor) is None:
        raise forbidden("no-privileges")
    return room


def _member(session: Session, room_id: int, uid: int) -> ChatRoomMember | None:
    return session.get(ChatRoomMember, (room_id, uid))


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
    chat_reads.record_sent(session, sender.uid, room_id, message.mid)
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
        "deleted": int(message.deleted),
        "system": 0,
        "edited": message.edited,
        "fromUser": {
            "uid": sender.uid,
            "username": sender.username,
            "userslug": sender.userslug,
        },
        "self": 1,
        "newSet": True,
        **({"editedISO": iso(message.edited)} if message.edited else {}),
    }


# --- Core's rooms (``POST /chats``, ``PUT /chats/{roomId}``, members, owners) --------------


def _new_room(session: Session, actor: int, uids: list[int], name: str, now: int) -> int:
    """Core's ``Messaging.newRoom``: the creator is an owner; in a room made for one other
    user, that user is an owner too."""
    room = ChatRoom(owner_uid=actor, created_at=now, message_count=0, room_name=name)
    session.add(room)
    session.flush()
    owners = {actor} if len(uids) > 1 else {actor, *uids}
    session.add_all(
        ChatRoomMember(room_id=room.room_id, uid=uid, joined_at=now, is_owner=uid in owners)
        for uid in dict.fromkeys([actor, *uids])
    )
    session.flush()
    return room.room_id


def _can_message(session: Session, actor: int, uids: list[int]) -> None:
    """Core's ``canMessageUser`` for each user (its refusals are 400s: no assert ran)."""
    found = set(session.scalars(select(User.uid).where(User.uid.in_(uids))))
    if any(uid not in found for uid in uids):
        raise bad_request("no-user")
    if actor in uids:
        raise bad_request("cant-chat-with-yourself")


def _check_room_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAXIMUM_CHAT_ROOM_NAME_LENGTH:
        raise bad_request("chat-room-name-too-long", MAXIMUM_CHAT_ROOM_NAME_LENGTH)
    return name


def create_room(
    session: Session, actor: int, uids: list[int], room_name: str | None = None
) -> dict[str, Any]:
    """``POST /chats``: a private room with ``uids`` (core's public rooms need groups,
    which forumq's rooms do not have)."""
    get_poster(session, actor)
    if not uids:
        raise bad_request("no-users-selected")
    name = _check_room_name(room_name or "")
    uids = list(dict.fromkeys(uids))
    _can_message(session, actor, uids)
    return room_data(
        session, session.get_one(ChatRoom, _new_room(session, actor, uids, name, now_ms()))
    )


def room_data(session: Session, room: ChatRoom) -> dict[str, Any]:
    """Core's ``Messaging.getRoomData`` (RoomObject)."""
    count = _user_count(session, room.room_id)
    return {
        "roomId": room.room_id,
        "roomName": room.room_name,
        "timestamp": room.created_at,
        "messageCount": room.message_count,
        "userCount": count,
        "groupChat": count > 2,
        "public": False,
        "groups": [],
        "notificationSetting": ALL_MESSAGES,
        "joinLeaveMessages": 0,
    }


def _user_count(session: Session, room_id: int) -> int:
    query = select(func.count()).where(ChatRoomMember.room_id == room_id)
    return int(session.scalar(query) or 0)


def update_room(
    session: Session, actor: int, room_id: int, name: str | None = None
) -> dict[str, Any]:
    """``PUT /chats/{roomId}``: rename (owners only); the room as core's ``loadRoom``."""
    room = _check_member(session, actor, room_id)
    if name is not None:
        name = _check_room_name(name)
        if not _is_owner(session, room_id, actor):
            raise forbidden("no-privileges")
        room.room_name = name
        session.flush()
    return _load_room(session, actor, room)


def _is_owner(session: Session, room_id: int, uid: int) -> bool:
    member = _member(session, room_id, uid)
    return member is not None and member.is_owner


def _load_room(session: Session, actor: int, room: ChatRoom) -> dict[str, Any]:
    """Core's ``Messaging.loadRoom`` (RoomObjectFull), without its message page."""
    users = _room_users(session, actor, room.room_id)
    admin = is_admin(session, actor)
    others = [user["username"] for user in users if user["uid"] != actor]
    return {
        **room_data(session, room),
        "isOwner": _is_owner(session, room.room_id, actor),
        "users": users,
        "canReply": True,
        "usernames": ", ".join(others),
        "maximumUsersInChatRoom": 0,
        "maximumChatMessageLength": MAXIMUM_CHAT_MESSAGE_LENGTH,
        "showUserInput": True,
        "isAdminOrGlobalMod": admin or in_group(session, actor, GLOBAL_MODERATORS),
    }


def _room_users(session: Session, actor: int, room_id: int) -> list[dict[str, Any]]:
    """Core's ``chatsAPI.users``: the room's first 40 members, oldest first."""
    rows = session.execute(
        select(User, ChatRoomMember.is_owner)
        .join(ChatRoomMember, ChatRoomMember.uid == User.uid)
        .where(ChatRoomMember.room_id == room_id)
        .order_by(ChatRoomMember.joined_at, ChatRoomMember.uid)
        .limit(40)
    ).all()
    owner = _is_owner(session, room_id, actor)
    admin = is_admin(session, actor)
    now = now_ms()
    users = []
    for index, (user, is_owner) in enumerate(rows):
        summary = user_summary(user, now)
        mine = user.uid == actor
        users.append({
            **{key: summary[key] for key in ("uid", "username", "userslug", "picture", "status",
                                             "displayname", "icon:text", "icon:bgColor")},
            "isLocal": True, "isOwner": bool(is_owner), "index": index,
            "canKick": owner and not mine, "canToggleOwner": (admin or owner) and not mine,
            "online": mine or summary["status"] == "online",
        })  # fmt: skip
    return users


def add_room_users(session: Session, actor: int, room_id: int, uids: list[int]) -> dict[str, Any]:
    """``POST /chats/{roomId}/users``: any member adds users (core's ``invite``)."""
    _check_member(session, actor, room_id)
    get_poster(session, actor)
    uids = list(dict.fromkeys(uids))
    _can_message(session, actor, uids)
    present = set(
        session.scalars(
            select(ChatRoomMember.uid).where(
                ChatRoomMember.room_id == room_id, ChatRoomMember.uid.in_(uids)
            )
        )
    )
    now = now_ms()
    session.add_all(
        ChatRoomMember(room_id=room_id, uid=uid, joined_at=now, is_owner=False)
        for uid in uids
        if uid not in present
    )
    session.flush()
    return {"users": _room_users(session, actor, room_id)}


def remove_room_users(
    session: Session, actor: int, room_id: int, uids: list[int]
) -> dict[str, Any]:
    """``DELETE /chats/{roomId}/users``: leave (the actor alone), or an owner removes
    users. Core answers a leave with ``[]``; forumq with ``{users: []}``, the documented
    object, as the one who left sees no member any more."""
    _check_member(session, actor, room_id)
    uids = list(dict.fromkeys(uids))
    found = set(session.scalars(select(User.uid).where(User.uid.in_(uids))))
    if any(uid not in found for uid in uids):
        raise bad_request("no-user")
    if uids != [actor] and not _is_owner(session, room_id, actor):
        raise bad_request("cant-remove-users-from-chat-room")
    _leave(session, room_id, uids)
    if _member(session, room_id, actor) is None:
        return {"users": []}
    return {"users": _room_users(session, actor, room_id)}


def _leave(session: Session, room_id: int, uids: list[int]) -> None:
    """Core's ``leaveRoom``: a room left without owners gets its oldest member as owner."""
    session.execute(
        delete(ChatRoomMember).where(
            ChatRoomMember.room_id == room_id, ChatRoomMember.uid.in_(uids)
        )
    )
    hand_over(session, room_id)


def hand_over(session: Session, room_id: int) -> None:
    """A room without owners gets its longest-standing member as owner (core's
    ``updateOwner``), when members leave or an account is deleted."""
    owners = exists().where(ChatRoomMember.room_id == room_id, ChatRoomMember.is_owner.is_(True))
    if not session.scalar(select(owners)):
        oldest = session.scalar(
            select(ChatRoomMember)
            .where(ChatRoomMember.room_id == room_id)
            .order_by(ChatRoomMember.joined_at, ChatRoomMember.uid)
            .limit(1)
        )
        if oldest is not None:
            oldest.is_owner = True
    session.flush()


def set_room_owner(
    session: Session, actor: int, room_id: int, uid: int, owner: bool
) -> dict[str, Any]:
    """``PUT``/``DELETE /chats/{roomId}/owners/{uid}``: admins and the room's owners.
    Core records any uid as an owner; forumq's owners are members: another user is 400."""
    _check_member(session, actor, room_id)
    get_user(session, uid)
    if not is_admin(session, actor) and not _is_owner(session, room_id, actor):
        raise forbidden("no-privileges")
    member = _member(session, room_id, uid)
    if member is None:
        raise bad_request("invalid-data")
    member.is_owner = owner
    session.flush()
    return {}


def delete_room(session: Session, actor: int, room_id: int) -> dict[str, Any]:
    """``DELETE /admin/chats/{roomId}``: an admin in the room deletes it and its messages."""
    require_admin(session, actor)
    _check_member(session, actor, room_id)
    session.execute(delete(ChatMessage).where(ChatMessage.room_id == room_id))
    session.execute(delete(ChatRoomMember).where(ChatRoomMember.room_id == room_id))
    session.execute(delete(ChatRoom).where(ChatRoom.room_id == room_id))
    return {}


# --- Messages: edit, delete, restore, pin ---------------------------------------------------


def _message(session: Session, actor: int, room_id: int, mid: int) -> ChatMessage:
    """Core's ``assert.room`` then ``assert.message`` (a message of another room: 400)."""
    _check_member(session, actor, room_id)
    message = session.get(ChatMessage, mid, with_for_update=True)
    if message is None or message.room_id != room_id:
        raise bad_request("invalid-mid")
    return message


def _check_editor(session: Session, actor: int, message: ChatMessage, verb: str) -> None:
    """Core's ``canEdit``/``canDelete``: the sender, an admin or a global moderator."""
    get_poster(session, actor)  # a banned user: user-banned
    if is_admin(session, actor) or in_group(session, actor, GLOBAL_MODERATORS):
        return
    if message.uid != actor:
        raise bad_request(f"cant-{verb}-chat-message")


def edit_message(
    session: Session, actor: int, room_id: int, mid: int, content: str
) -> dict[str, Any]:
    message = _message(session, actor, room_id, mid)
    _check_editor(session, actor, message, "edit")
    _check_message(content)
    if content != message.content:
        message.content = content
        message.edited = now_ms()
        session.flush()
    return message_data(message, session.get_one(User, message.uid))


def set_message_deleted(
    session: Session, actor: int, room_id: int, mid: int, deleted: bool
) -> dict[str, Any]:
    message = _message(session, actor, room_id, mid)
    _check_editor(session, actor, message, "delete")
    if message.deleted == deleted:
        raise bad_request("chat-deleted-already" if deleted else "chat-restored-already")
    message.deleted = deleted
    session.flush()
    return {}


def set_message_pinned(
    session: Session, actor: int, room_id: int, mid: int, pinned: bool
) -> dict[str, Any]:
    """Core's ``canPin``: admins, global moderators, and the room's owners."""
    message = _message(session, actor, room_id, mid)
    allowed = is_admin(session, actor) or in_group(session, actor, GLOBAL_MODERATORS)
    if not allowed and not _is_owner(session, room_id, actor):
        raise forbidden("no-privileges")
    message.pinned_at = now_ms() if pinned else 0
    session.flush()
    return {}

"""Chat reads: a user's rooms by latest message, a room with its members and latest
messages, one message, NodeBB's ``/api/user/:userslug/chats/:roomid?`` page.

As NodeBB's ``middleware.canChat`` and ``assert.room``: a guest is asked to log in, a
banned user may not chat (403), an unknown room is 404 ``chat-room-does-not-exist`` and
only its members read a room (403 ``no-privileges``; administrators are no exception,
but for a message's raw text, as ``chatsAPI.getRawMessage``). A room's ``unread`` is
``forum.chat_reads``'s rule; forumq keeps no public rooms: ``publicRooms`` is empty.

A page is a fixed number of statements: the rooms (or the room), their members with
their users, and the messages with their teasers, each loaded in one statement."""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from forum import chat_reads
from forum.chats import MAXIMUM_CHAT_MESSAGE_LENGTH
from forum.clock import iso
from forum.errors import bad_request, forbidden, not_authorised, not_found
from forum.models import ChatMessage, ChatRoom, ChatRoomMember
from forum.read import loading
from forum.read.access import Viewer
from forum.read.objects import JSON
from forum.read.render import markdown
from forum.read.users import find_user

MESSAGES_PER_LOAD = 50  # chatsAPI.listMessages and Messaging.loadRoom
ROOM_USERS_PER_LOAD = 40  # chatsAPI.users: start to start + 39
ROOMS_ON_PAGE = 30  # the chats page: getRecentChats(0, 29)
ROOMS_PER_PAGE = 20  # chatsAPI.list's perPage default
PINNED_PER_LOAD = 50  # chatsAPI.getPinnedMessages: start to start + 49
DELETED_MESSAGE = "[[modules:chat.message-deleted]]"
NEW_SET_MS = 3 * 60_000  # Messaging.newMessageCutoff: a gap that starts a new set
# meta.config.maximumUsersInChatRoom: 0, no limit.
MAXIMUM_USERS_IN_CHAT_ROOM = 0
# The fields of a user NodeBB puts in a message's fromUser and a room's users.
_MESSAGE_USER = ("uid", "username", "userslug", "displayname", "picture", "status", "banned",
                 "icon:text", "icon:bgColor", "banned_until", "banned_until_readable",
                 "isLocal")  # fmt: skip
_ROOM_USER = ("uid", "username", "userslug", "displayname", "picture", "status",
              "icon:text", "icon:bgColor", "lastonline", "lastonlineISO", "isLocal")  # fmt: skip


@dataclass(frozen=True)
class Members:
    """Who is in each room, in the order they joined, and who owns it."""

    uids: dict[int, list[int]]
    owners: dict[int, set[int]]
    users: dict[int, JSON]


def require_chatter(viewer: Viewer) -> None:
    """``ensureLoggedIn`` then ``canChat``: the ``chat`` privilege, which a banned user
    loses with the registered-users group."""
    if not viewer.logged_in:
        raise not_authorised()
    if viewer.banned and not viewer.can("chat", 0):
        raise forbidden("no-privileges")


def member_room(session: Session, viewer: Viewer, room_id: int | None) -> tuple[ChatRoom, int]:
    """``assert.room``: the room, if the caller chats and is one of its members, and when
    they joined it (they see the messages sent since, as NodeBB's per-user sets)."""
    require_chatter(viewer)
    room = session.get(ChatRoom, room_id) if room_id else None
    if room is None:
        raise not_found("chat-room-does-not-exist")
    joined = _joined(session, viewer.uid, room.room_id)
    if joined is None:
        raise forbidden("no-privileges")
    return room, joined


def _joined(session: Session, uid: int, room_id: int) -> int | None:
    found = select(ChatRoomMember.joined_at).where(
        ChatRoomMember.room_id == room_id, ChatRoomMember.uid == uid
    )
    return session.scalar(found)


def _members(session: Session, room_ids: list[int], now: int) -> Members:
    uids: dict[int, list[int]] = defaultdict(list)
    owners: dict[int, set[int]] = defaultdict(set)
    if room_ids:
        rows = session.execute(
            select(ChatRoomMember.room_id, ChatRoomMember.uid, ChatRoomMember.is_owner)
            .where(ChatRoomMember.room_id.in_(room_ids))
            .order_by(ChatRoomMember.joined_at, ChatRoomMember.uid)
        )
        for room_id, uid, owner in rows:
            uids[room_id].append(uid)
            if owner:
                owners[room_id].add(uid)
    everyone = {uid for listed in uids.values() for uid in listed}
    return Members(dict(uids), dict(owners), loading.users(session, everyone, now))


def _pick(user: JSON, keys: tuple[str, ...]) -> JSON:
    return {key: user[key] for key in keys if key in user}


def _usernames(members: Members, room_id: int, viewer_uid: int) -> str:
    """Messaging.generateUsernames: the other members' names."""
    others = [uid for uid in members.uids.get(room_id, []) if uid != viewer_uid]
    return ", ".join(members.users[uid]["username"] for uid in others)


def _room_fields(room: ChatRoom, user_count: int) -> JSON:
    """The stored fields of a room (RoomObject)."""
    return {
        "roomId": room.room_id,
        "roomName": room.room_name,
        "public": False,
        "groups": [],
        "userCount": user_count,
        "messageCount": room.message_count,
        "timestamp": room.created_at,
        "notificationSetting": 2,  # notificationSettings.ALLMESSAGES, a private room's
        "joinLeaveMessages": 0,
        "groupChat": user_count > 2,
    }


# --- rooms ---------------------------------------------------------------------------------


def _activity() -> ColumnElement[int]:
    """A room's last activity: its latest message, or its creation."""
    latest = select(func.max(ChatMessage.timestamp)).where(ChatMessage.room_id == ChatRoom.room_id)
    return func.coalesce(latest.scalar_subquery(), ChatRoom.created_at)


def unread_count(session: Session, viewer: Viewer) -> JSON:
    """``GET /api/v3/chats/unread`` (``chatsAPI.getUnread``): the caller's unread rooms."""
    require_chatter(viewer)
    return {"count": chat_reads.unread_count(session, viewer.uid)}


def recent_rooms(session: Session, viewer: Viewer, uid: int, start: int, stop: int,
                 now: int) -> JSON:  # fmt: skip
    """``Messaging.getRecentChats``: ``uid``'s rooms from ``start`` to ``stop`` (both
    included), the room with the latest message first. Only the user themself may list
    them (``filter:messaging.canGetRecentChats``)."""
    require_chatter(viewer)
    if uid != viewer.uid:
        raise forbidden("no-privileges")
    start, count = max(0, start), max(0, stop - max(0, start) + 1)
    teaser_mid = (
        select(ChatMessage.mid)
        .where(ChatMessage.room_id == ChatRoom.room_id)
        .order_by(ChatMessage.timestamp.desc(), ChatMessage.mid.desc())
        .limit(1)
        .scalar_subquery()
    )
    activity = _activity()
    rows = session.execute(
        select(ChatRoom, teaser_mid, chat_reads.unread_clause(uid))
        .join(ChatRoomMember, ChatRoomMember.room_id == ChatRoom.room_id)
        .where(ChatRoomMember.uid == uid)
        .order_by(activity.desc(), ChatRoom.room_id.desc())
        .offset(start)
        .limit(count)
    ).all()
    members = _members(session, [room.room_id for room, _, _ in rows], now)
    mids = [mid for _, mid, _ in rows if mid is not None]
    teasers = {}
    if mids:
        teasers = {
            m.mid: m for m in session.scalars(select(ChatMessage).where(ChatMessage.mid.in_(mids)))
        }
    rooms = [_room_summary(room, members, teasers.get(mid or 0), uid, bool(unread))
             for room, mid, unread in rows]  # fmt: skip
    return {"rooms": rooms, "nextStart": start + count}


def _room_summary(room: ChatRoom, members: Members, teaser: ChatMessage | None, uid: int,
                  unread: bool) -> JSON:  # fmt: skip
    uids = members.uids.get(room.room_id, [])
    others = [_pick(members.users[other], _ROOM_USER) for other in uids if other != uid]
    data = _room_fields(room, len(uids))
    data.update(
        users=others,
        lastUser=others[0] if others else {},
        usernames=_usernames(members, room.room_id, uid),
        unread=unread,
        teaser=None,
    )
    if teaser is not None:
        data["teaser"] = {
            "roomId": room.room_id,
            "fromuid": teaser.uid,
            "content": teaser.content,
            "timestamp": teaser.timestamp,
            "timestampISO": iso(teaser.timestamp),
            "user": _pick(members.users.get(teaser.uid, members.users[0]), _ROOM_USER),
        }
    return data


def load_room(session: Session, viewer: Viewer, room_id: int | None, now: int,
              start: int = 0) -> JSON:  # fmt: skip
    """``Messaging.loadRoom``: the room, its members and its latest messages."""
    room, joined = member_room(session, viewer, room_id)
    members = _members(session, [room.room_id], now)
    uids = members.uids.get(room.room_id, [])
    data = _room_fields(room, len(uids))
    owners = members.owners.get(room.room_id, set())
    data.update(
        messages=_messages(session, viewer, room, joined, members, start, now),
        isOwner=viewer.uid in owners,
        users=[_room_user(members.users[uid], owners, viewer, n) for n, uid in enumerate(uids)],
        canReply=not viewer.banned,
        usernames=_usernames(members, room.room_id, viewer.uid),
        chatWithMessage="",
        maximumUsersInChatRoom=MAXIMUM_USERS_IN_CHAT_ROOM,
        maximumChatMessageLength=MAXIMUM_CHAT_MESSAGE_LENGTH,
        showUserInput=True,
        isAdminOrGlobalMod=viewer.admin or viewer.global_moderator,
        isAdmin=viewer.admin,
        icon="fa-comment",
    )  # fmt: skip
    return data


def room_users(session: Session, viewer: Viewer, room_id: int | None, start: int,
               now: int) -> JSON:  # fmt: skip
    """``chatsAPI.users``: 40 members from ``start``, with what the caller may do to each."""
    room, _ = member_room(session, viewer, room_id)
    members = _members(session, [room.room_id], now)
    uids = members.uids.get(room.room_id, [])[max(0, start) :][:ROOM_USERS_PER_LOAD]
    owners = members.owners.get(room.room_id, set())
    return {
        "users": [
            _room_user(members.users[uid], owners, viewer, max(0, start) + index)
            for index, uid in enumerate(uids)
        ]
    }


def _room_user(user: JSON, owners: set[int], viewer: Viewer, index: int) -> JSON:
    caller_owns = viewer.uid in owners
    itself = user["uid"] == viewer.uid
    return {
        **_pick(user, _ROOM_USER),
        "isOwner": user["uid"] in owners,
        "canKick": caller_owns and not itself,
        "canToggleOwner": (viewer.admin or caller_owns) and not itself,
        "online": itself or user["status"] == "online",
        "index": index,
    }


# --- messages ------------------------------------------------------------------------------


def messages_page(session: Session, viewer: Viewer, room_id: int | None, uid: int,
                  start: int, now: int) -> JSON:  # fmt: skip
    """``chatsAPI.listMessages``: 50 messages from the ``start``-th newest, oldest first.
    ``?uid=`` must be the caller (``filter:messaging.canGetMessages``)."""
    room, joined = member_room(session, viewer, room_id)
    if uid != viewer.uid:
        raise forbidden("no-privileges")
    members = _members(session, [room.room_id], now)
    return {"messages": _messages(session, viewer, room, joined, members, start, now)}


def _since(room: ChatRoom, joined: int) -> ColumnElement[bool]:
    """The messages of the room a member sees: those sent since they joined."""
    return and_(ChatMessage.room_id == room.room_id, ChatMessage.timestamp >= joined)


def _messages(session: Session, viewer: Viewer, room: ChatRoom, joined: int, members: Members,
              start: int, now: int) -> list[JSON]:  # fmt: skip
    """The ``start``-th newest message and the 49 before it, oldest first, with their
    index among those the caller sees; one more row is read to tell whether the oldest
    starts a new set."""
    start = max(0, start)
    seen = select(func.count()).where(_since(room, joined)).scalar_subquery()
    found = session.execute(
        select(ChatMessage, seen)
        .where(_since(room, joined))
        .order_by(ChatMessage.timestamp.desc(), ChatMessage.mid.desc())
        .offset(start)
        .limit(MESSAGES_PER_LOAD + 1)
    ).all()
    rows = [message for message, _ in found]
    total = found[0][1] if found else 0
    shown = rows[:MESSAGES_PER_LOAD]
    before = rows[MESSAGES_PER_LOAD] if len(rows) > MESSAGES_PER_LOAD else None
    senders = loading.users(session, {m.uid for m in shown} - set(members.users), now)
    senders.update(members.users)
    answer = []
    previous = before
    for position, message in enumerate(reversed(shown)):
        data = message_object(message, senders.get(message.uid, senders[0]), viewer)
        data["newSet"] = (
            previous is None
            or previous.uid != message.uid
            or message.timestamp > previous.timestamp + NEW_SET_MS
        )
        data["index"] = total - start - len(shown) + position
        answer.append(data)
        previous = message
    return answer


def message_object(message: ChatMessage, sender: JSON, viewer: Viewer) -> JSON:
    """A message as NodeBB's ``Messaging.getMessages`` gives it (MessageObject):
    ``content`` rendered as a post's; a deleted one's shown to its sender only."""
    own = message.uid == viewer.uid
    hidden = message.deleted and not own
    return {
        "mid": message.mid,
        "messageId": message.mid,
        "roomId": str(message.room_id),  # NodeBB's hash field: a string (read.yaml)
        "fromuid": message.uid,
        "content": markdown(DELETED_MESSAGE if hidden else message.content),
        "timestamp": message.timestamp,
        "timestampISO": iso(message.timestamp),
        "deleted": int(message.deleted),
        "system": 0,
        "edited": message.edited,
        "editedISO": iso(message.edited),
        "fromUser": {**_pick(sender, _MESSAGE_USER), "deleted": False},
        "self": int(own),
        "newSet": True,
        "isOwner": own,
    }


def _room_message(session: Session, room: ChatRoom, joined: int,
                  mid: int | None) -> ChatMessage | None:  # fmt: skip
    """``canViewMessage``: a message of the room, sent since the caller joined."""
    message = session.get(ChatMessage, mid) if mid else None
    if message is None or message.room_id != room.room_id or message.timestamp < joined:
        return None
    return message


def get_message(session: Session, viewer: Viewer, room_id: int | None, mid: int | None,
                now: int) -> JSON:  # fmt: skip
    """``GET /chats/:roomId/messages/:mid``: ``assert.message`` refuses a message that is
    not the room's (400 ``invalid-mid``)."""
    room, joined = member_room(session, viewer, room_id)
    message = _room_message(session, room, joined, mid)
    if message is None:
        raise bad_request("invalid-mid")
    sender = loading.users(session, [message.uid], now)[message.uid]
    return message_object(message, sender, viewer)


def raw_message(session: Session, viewer: Viewer, room_id: int | None, mid: int | None) -> JSON:
    """``chatsAPI.getRawMessage``: the text as written; administrators may read any
    message of a room they are not in (``assert.room`` still wants them in it)."""
    room, joined = member_room(session, viewer, room_id)
    message = _room_message(session, room, joined, mid)
    if message is None:
        raise bad_request("not-allowed")
    return {"content": message.content}


def pinned_messages(session: Session, viewer: Viewer, room_id: int | None, start: int,
                    now: int) -> JSON:  # fmt: skip
    """``chatsAPI.getPinnedMessages``: 50 pinned messages from ``start``, latest pin first."""
    room, joined = member_room(session, viewer, room_id)
    rows = list(
        session.scalars(
            select(ChatMessage)
            .where(_since(room, joined), ChatMessage.pinned_at > 0)
            .order_by(ChatMessage.pinned_at.desc(), ChatMessage.mid.desc())
            .offset(max(0, start))
            .limit(PINNED_PER_LOAD)
        )
    )
    senders = loading.users(session, {m.uid for m in rows}, now)
    return {"messages": [message_object(m, senders[m.uid], viewer) for m in rows]}


def message_place(session: Session, mid: int) -> tuple[int, int] | None:
    """A message's room and its index there (0: the room's oldest), for the redirect to
    it; whether the caller may see it is the chats page's to say."""
    message = session.get(ChatMessage, mid) if 0 < mid < 2**63 else None
    if message is None:
        return None
    before = select(func.count()).where(
        ChatMessage.room_id == message.room_id,
        (ChatMessage.timestamp < message.timestamp)
        | ((ChatMessage.timestamp == message.timestamp) & (ChatMessage.mid < message.mid)),
    )
    return message.room_id, int(session.scalar(before) or 0)


# --- the chats page ------------------------------------------------------------------------


def chats_page(session: Session, viewer: Viewer, userslug: str, room_id: int | None,
               index: int | None, now: int) -> JSON:  # fmt: skip
    """``/api/user/:userslug/chats/:roomid?/:index?``: the user's 30 latest rooms and,
    with a room, that room as ``loadRoom`` gives it. Another user's chats are not found
    (``getRecentChats`` gives nothing), nor is a room the caller is not in."""
    require_chatter(viewer)
    user = find_user(session, userslug=userslug)
    if user.uid != viewer.uid:
        raise not_found("no-user")
    recent = recent_rooms(session, viewer, user.uid, 0, ROOMS_ON_PAGE - 1, now)
    count = session.scalar(
        select(func.count()).select_from(ChatRoomMember).where(ChatRoomMember.uid == user.uid)
    )
    data: JSON = {
        "title": "[[pages:chats]]",
        "uid": user.uid,
        "userslug": user.userslug,
        **recent,
        "publicRooms": [],
        "privateRoomCount": int(count or 0),
    }
    if room_id is None:
        return data
    room = session.get(ChatRoom, room_id)
    if room is None or _joined(session, viewer.uid, room.room_id) is None:
        raise not_found("chat-room-does-not-exist")
    start, data["scrollToIndex"] = 0, None
    if index is not None:
        start = max(0, room.message_count - index - (MESSAGES_PER_LOAD - 1))
        data["scrollToIndex"] = min(room.message_count, max(0, index or 1))
    loaded = load_room(session, viewer, room.room_id, now, start)
    data.update(loaded)
    data["title"] = loaded["roomName"] or loaded["usernames"] or "[[pages:chats]]"
    data["bodyClasses"] = ["chat-loaded"]
    data["canViewInfo"] = viewer.admin or viewer.global_moderator
    return data

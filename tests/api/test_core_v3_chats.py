"""Core's chat rooms over /api/v3: create, rename, members, owners, message edit,
delete, restore and pin, with core's room rules. Every answer is checked against
``write.yaml``; refusals leave the rows as they were."""

from typing import Any

import pytest
from sqlalchemy import select

from forum.models import ChatMessage, ChatRoom, ChatRoomMember
from tests.core_v3 import Core
from tests.support import new_user, user_with_token


def _members(core: Core, room: int) -> dict[int, bool]:
    """uid -> is owner."""
    with core.stack.session() as session:
        rows = session.execute(
            select(ChatRoomMember.uid, ChatRoomMember.is_owner).where(
                ChatRoomMember.room_id == room
            )
        )
        return {uid: owner for uid, owner in rows}


def _users(core: Core, n: int) -> list[tuple[int, str]]:
    return [user_with_token(core.stack.database_url) for _ in range(n)]


def test_create_a_room_and_who_owns_it(core: Core) -> None:
    (alice, a), (bob, _), (carol, _) = _users(core, 3)
    # A room made for one other user: both own it (core's newRoom).
    room = core.ok(a, "POST", "/chats", json={"uids": [bob]})
    assert (room["userCount"], room["groupChat"], room["roomName"]) == (2, False, "")
    assert _members(core, room["roomId"]) == {alice: True, bob: True}
    # A group room: only its creator.
    group = core.ok(a, "POST", "/chats", json={"uids": [bob, carol], "roomName": " Team "})
    assert (group["userCount"], group["groupChat"], group["roomName"]) == (3, True, "Team")
    assert _members(core, group["roomId"]) == {alice: True, bob: False, carol: False}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "[[error:required-parameters-missing, uids]]"),
        ({"uids": []}, 400, "[[error:no-users-selected]]"),
        ({"uids": [987654321]}, 400, "[[error:no-user]]"),
        ({"uids": "2"}, 400, None),
        ({"uids": [0]}, 400, None),
        ({"uids": [None]}, 400, None),
        ({"uids": [1], "roomName": "x" * 51}, 400, "[[error:chat-room-name-too-long, 50]]"),
    ],
)
def test_bad_room_creations_leave_no_room(
    core: Core, body: dict[str, Any], status: int, message: str | None
) -> None:
    uid, token = user_with_token(core.stack.database_url)
    if body.get("uids") == [1]:
        body = {**body, "uids": [new_user(core.stack.database_url)]}
    rooms = core.count(ChatRoom.owner_uid == uid)
    said = core.refused(token, "POST", "/chats", status, json=body)
    if message:
        assert said == message
    assert core.count(ChatRoom.owner_uid == uid) == rooms


def test_a_room_with_oneself_is_refused(core: Core) -> None:
    uid, token = user_with_token(core.stack.database_url)
    said = core.refused(token, "POST", "/chats", 400, json={"uids": [uid]})
    assert said == "[[error:cant-chat-with-yourself]]"
    assert core.count(ChatRoom.owner_uid == uid) == 0


def test_rename_is_for_owners(core: Core) -> None:
    (alice, a), (bob, b), (carol, c) = _users(core, 3)
    room = core.ok(a, "POST", "/chats", json={"uids": [bob, carol]})["roomId"]
    loaded = core.ok(a, "PUT", f"/chats/{room}", json={"name": "Plans"})
    assert (loaded["roomName"], loaded["isOwner"], loaded["roomId"]) == ("Plans", True, room)
    assert sorted(user["uid"] for user in loaded["users"]) == sorted([alice, bob, carol])
    assert core.refused(b, "PUT", f"/chats/{room}", 403, json={"name": "Mine"}) == (
        "[[error:no-privileges]]"
    )
    too_long = core.refused(a, "PUT", f"/chats/{room}", 400, json={"name": "y" * 51})
    assert too_long == "[[error:chat-room-name-too-long, 50]]"
    assert core.row(ChatRoom, room).room_name == "Plans"
    outsider = user_with_token(core.stack.database_url)[1]
    core.refused(outsider, "PUT", f"/chats/{room}", 403, json={"name": "Hijack"})
    core.refused(a, "PUT", "/chats/987654321", 404, json={"name": "Nowhere"})
    # No name: the room as it is, for any member.
    assert core.ok(c, "PUT", f"/chats/{room}", json={})["roomName"] == "Plans"


def test_members_add_owners_remove_and_ownership_passes_on(core: Core) -> None:
    (alice, a), (bob, b), (carol, c), (dave, d) = _users(core, 4)
    room = core.ok(a, "POST", "/chats", json={"uids": [bob, carol]})["roomId"]
    # Any member adds users.
    listed = core.ok(b, "POST", f"/chats/{room}/users", json={"uids": [dave]})
    assert {user["uid"] for user in listed["users"]} == {alice, bob, carol, dave}
    assert _members(core, room)[dave] is False
    assert core.refused(b, "POST", f"/chats/{room}/users", 400, json={"uids": [987654321]}) == (
        "[[error:no-user]]"
    )
    core.refused(b, "POST", f"/chats/{room}/users", 400, json={})
    # Only owners remove others: core's 400.
    said = core.refused(b, "DELETE", f"/chats/{room}/users", 400, json={"uids": [carol]})
    assert said == "[[error:cant-remove-users-from-chat-room]]"
    assert carol in _members(core, room)
    listed = core.ok(a, "DELETE", f"/chats/{room}/users/{carol}")
    assert {user["uid"] for user in listed["users"]} == {alice, bob, dave}
    assert carol not in _members(core, room)
    core.refused(c, "POST", f"/chats/{room}", 403, json={"message": "still here?"})
    # The owner leaves: the longest-standing member takes over.
    assert core.ok(a, "DELETE", f"/chats/{room}/users", json={"uids": [alice]}) == {"users": []}
    assert _members(core, room) == {bob: True, dave: False}
    # Owners and admins make owners; a member who is not an owner cannot.
    core.refused(d, "PUT", f"/chats/{room}/owners/{bob}", 403)
    assert core.ok(b, "PUT", f"/chats/{room}/owners/{dave}") == {}
    assert _members(core, room)[dave] is True
    assert core.ok(b, "DELETE", f"/chats/{room}/owners/{dave}") == {}
    assert _members(core, room)[dave] is False
    core.refused(b, "PUT", f"/chats/{room}/owners/987654321", 404)
    core.refused(b, "PUT", f"/chats/{room}/owners/{carol}", 400)  # not in the room
    core.refused(b, "PUT", f"/chats/{room}/owners/abc", 404)


def test_messages_edit_delete_restore_and_pin(core: Core) -> None:
    (alice, a), (bob, b) = _users(core, 2)
    room = core.ok(a, "POST", "/chats", json={"uids": [bob, new_user(core.stack.database_url)]})
    room_id = room["roomId"]
    mid = core.ok(b, "POST", f"/chats/{room_id}", json={"message": "first words"})["mid"]
    edited = core.ok(b, "PUT", f"/chats/{room_id}/messages/{mid}", json={"message": "better"})
    assert (edited["content"], edited["mid"]) == ("better", mid) and edited["edited"] > 0
    # Another member may not edit or delete it; its sender may.
    said = core.refused(a, "PUT", f"/chats/{room_id}/messages/{mid}", 400, json={"message": "x"})
    assert said == "[[error:cant-edit-chat-message]]"
    said = core.refused(a, "DELETE", f"/chats/{room_id}/messages/{mid}", 400)
    assert said == "[[error:cant-delete-chat-message]]"
    core.refused(b, "PUT", f"/chats/{room_id}/messages/{mid}", 400, json={"message": " "})
    assert core.row(ChatMessage, mid).content == "better"
    assert core.ok(b, "DELETE", f"/chats/{room_id}/messages/{mid}") == {}
    assert core.row(ChatMessage, mid).deleted
    said = core.refused(b, "DELETE", f"/chats/{room_id}/messages/{mid}", 400)
    assert said == "[[error:chat-deleted-already]]"
    assert core.ok(b, "POST", f"/chats/{room_id}/messages/{mid}") == {}
    assert not core.row(ChatMessage, mid).deleted
    said = core.refused(b, "POST", f"/chats/{room_id}/messages/{mid}", 400)
    assert said == "[[error:chat-restored-already]]"
    # Pins: the room's owners.
    core.refused(b, "PUT", f"/chats/{room_id}/messages/{mid}/pin", 403)
    assert core.ok(a, "PUT", f"/chats/{room_id}/messages/{mid}/pin") == {}
    assert core.row(ChatMessage, mid).pinned_at > 0
    assert core.ok(a, "DELETE", f"/chats/{room_id}/messages/{mid}/pin") == {}
    assert core.row(ChatMessage, mid).pinned_at == 0
    # A message of another room, or none: core's invalid-mid.
    other = core.ok(a, "POST", "/chats", json={"uids": [bob]})["roomId"]
    said = core.refused(b, "DELETE", f"/chats/{other}/messages/{mid}", 400)
    assert said == "[[error:invalid-mid]]"
    core.refused(b, "DELETE", f"/chats/{room_id}/messages/987654321", 400)
    assert alice != bob


def test_an_admin_deletes_a_room(core: Core) -> None:
    admin = core.stack.admin_token
    uid, token = user_with_token(core.stack.database_url)
    room = core.ok(token, "POST", "/chats", json={"uids": [new_user(core.stack.database_url)]})
    room_id = room["roomId"]
    core.ok(token, "POST", f"/chats/{room_id}", json={"message": "hello there"})
    core.refused(token, "DELETE", f"/admin/chats/{room_id}", 403)
    # Core's assert.room: the admin must be in the room.
    core.refused(admin, "DELETE", f"/admin/chats/{room_id}", 403)
    core.ok(token, "POST", f"/chats/{room_id}/users", json={"uids": [core.stack.admin_uid]})
    assert core.ok(admin, "DELETE", f"/admin/chats/{room_id}") == {}
    assert core.row(ChatRoom, room_id) is None
    assert core.count(ChatMessage.room_id == room_id) == 0
    assert uid > 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/chats/abc", {"message": "x"}),
        ("PUT", "/chats/Infinity", {"name": "x"}),
        ("POST", "/chats/1x/users", {"uids": [1]}),
        ("DELETE", "/chats/abc/users/1", None),
        ("PUT", "/chats/abc/owners/1", None),
        ("PUT", "/chats/abc/messages/1", {"message": "x"}),
        ("DELETE", "/chats/abc/state", None),
    ],
)
def test_a_room_id_that_is_not_a_number_is_invalid_data(
    core: Core, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """``assert.room``: a ``roomId`` that is not a number is 400 ``invalid-data``;
    a number that names no room stays 404 ``chat-room-does-not-exist``."""
    _, token = user_with_token(core.stack.database_url)
    kwargs = {} if body is None else {"json": body}
    assert core.refused(token, method, path, 400, **kwargs) == "[[error:invalid-data]]"
    numeric = path.replace("abc", "1.5").replace("Infinity", "-3").replace("1x", "987654321")
    assert core.refused(token, method, numeric, 404, **kwargs) \
        == "[[error:chat-room-does-not-exist]]"  # fmt: skip

"""POST /users/{uid}/chats: a new room (v1), or an existing room (v2 ``roomId``)."""

from sqlalchemy import func, select

from forum.models import ChatMessage, ChatRoom, ChatRoomMember
from tests.support import Stack, error, ok, user_with_token


def room_members(stack: Stack, room_id: int) -> set[int]:
    with stack.session() as session:
        query = select(ChatRoomMember.uid).where(ChatRoomMember.room_id == room_id)
        return set(session.scalars(query))


def message_count(stack: Stack, room_id: int) -> tuple[int, int]:
    """(the room's counter, its rows)."""
    with stack.session() as session:
        counter = session.get(ChatRoom, room_id).message_count
        rows = session.scalar(select(func.count()).where(ChatMessage.room_id == room_id))
    return counter, rows


def test_v1_chat_always_opens_a_new_room(any_stack: Stack) -> None:
    sender, token = user_with_token(any_stack.database_url)
    recipient, _ = user_with_token(any_stack.database_url)
    with any_stack.client(token) as client:
        first = ok(client.post(f"/api/v1/users/{recipient}/chats", json={"message": "Hello"}))
        second = ok(
            client.post(
                f"/api/v1/users/{recipient}/chats",
                data={"message": "Again", "roomId": first["roomId"]},
            )
        )
    assert first["content"] == "Hello" and first["fromuid"] == sender
    assert first["fromUser"]["uid"] == sender and first["mid"] > 0
    assert second["roomId"] != first["roomId"]
    assert room_members(any_stack, first["roomId"]) == {sender, recipient}
    assert message_count(any_stack, first["roomId"]) == (1, 1)


def test_v2_chat_into_an_existing_room(stack: Stack) -> None:
    sender, token = user_with_token(stack.database_url)
    recipient, recipient_token = user_with_token(stack.database_url)
    outsider, outsider_token = user_with_token(stack.database_url)
    with stack.client(token) as client:
        room = ok(client.post(f"/api/v2/users/{recipient}/chats", json={"message": "Hi"}))["roomId"]
    with stack.client(recipient_token) as client:
        answer = ok(
            client.post(
                f"/api/v2/users/{sender}/chats",
                json={
                    "message": "Back at you",
                    "roomId": room,
                    "timestamp": 1500000000000,
                    "quiet": 1,
                },
            )
        )
    assert answer["roomId"] == room and answer["timestamp"] == 1500000000000
    assert message_count(stack, room) == (2, 2)
    with stack.client(outsider_token) as client:
        not_member = client.post(
            f"/api/v2/users/{sender}/chats", json={"message": "Let me in", "roomId": room}
        )
        no_room = client.post(
            f"/api/v2/users/{sender}/chats", json={"message": "Where", "roomId": 99999999}
        )
    error(not_member, 403, "forbidden")
    error(no_room, 404, "not-found")
    assert message_count(stack, room) == (2, 2)
    assert outsider not in room_members(stack, room)


def test_chat_errors(stack: Stack) -> None:
    sender, token = user_with_token(stack.database_url)
    recipient, _ = user_with_token(stack.database_url)
    with stack.client(token) as client:
        missing = client.post(f"/api/v1/users/{recipient}/chats", json={})
        blank = client.post(f"/api/v1/users/{recipient}/chats", json={"message": "   "})
        too_long = client.post(f"/api/v1/users/{recipient}/chats", json={"message": "x" * 1001})
        to_self = client.post(f"/api/v1/users/{sender}/chats", json={"message": "Me"})
        unknown = client.post("/api/v1/users/99999999/chats", json={"message": "Anyone?"})
        bad_time = client.post(
            f"/api/v2/users/{recipient}/chats", json={"message": "x", "timestamp": "yesterday"}
        )
    with stack.client() as client:
        anonymous = client.post(f"/api/v1/users/{recipient}/chats", json={"message": "Hi"})
    with stack.client(stack.master_token) as client:
        as_sender = client.post(
            f"/api/v1/users/{recipient}/chats", json={"message": "Via master", "_uid": sender}
        )
        no_uid = client.post(f"/api/v1/users/{recipient}/chats", json={"message": "Who"})
    error(missing, 400, "params-missing")
    assert missing.json()["params"] == ["message"]
    error(blank, 400, "bad-request")
    error(too_long, 400, "bad-request", "chat-message-too-long")
    error(to_self, 400, "bad-request", "cant-chat-with-yourself")
    error(unknown, 404, "not-found")
    error(bad_time, 400, "bad-request")
    assert bad_time.json()["params"] == ["timestamp"]
    error(anonymous, 401, "not-authorised")
    assert ok(as_sender)["fromuid"] == sender
    error(no_uid, 400, "params-missing")
    with stack.session() as session:
        sent = select(func.count()).where(ChatMessage.uid == sender)
        assert session.scalar(sent) == 1


def test_banned_user_cannot_chat(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    recipient, _ = user_with_token(stack.database_url)
    with stack.client(stack.admin_token) as client:
        ok(client.post(f"/api/v1/users/{uid}/ban"))
    with stack.client(token) as client:
        refused = client.post(f"/api/v1/users/{recipient}/chats", json={"message": "Hi"})
    error(refused, 400, "bad-request", "user-banned")

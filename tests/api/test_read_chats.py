"""Chat reads over HTTP, on both stacks: ``/api/v3/chats/...`` GETs and the
``/api/user/:userslug/chats/:roomid?`` page in NodeBB's shapes (validated against
write.yaml / read.yaml), members only, bad ids answered as NodeBB's asserts."""

from urllib.parse import unquote

import pytest

from forum import bans
from forum.chats import send_message
from forum.db import transaction
from tests.api.reads import get, new_user, ok, refused
from tests.nodebb_spec import check_answer
from tests.support import Stack

BASE = 1_700_000_000_000  # in the past: later sends are newer


def chat(stack: Stack, sender: int, to: int, content: str, room: int | None = None,
         at: int = 0) -> dict:  # fmt: skip
    with transaction(stack.database_url) as session:
        return send_message(session, sender, to, content, room_id=room, timestamp=at or None)


@pytest.fixture
def rooms(any_stack: Stack) -> dict:
    """Alice's room with Bob (four messages) and a later one with Carol; Dave is outside."""
    alice, alice_token, alice_slug = new_user(any_stack)
    bob, bob_token, bob_slug = new_user(any_stack)
    carol, _, _ = new_user(any_stack)
    dave, dave_token, _ = new_user(any_stack)
    first = chat(any_stack, alice, bob, "Hello **Bob**", at=BASE)
    room = first["roomId"]
    chat(any_stack, alice, bob, "Are you there?", room, at=BASE + 1000)
    reply = chat(any_stack, bob, alice, "Yes, *here*", room, at=BASE + 2000)
    chat(any_stack, bob, alice, "Much later", room, at=BASE + 3_600_000)
    other = chat(any_stack, carol, alice, "Hi Alice", at=BASE + 7_200_000)["roomId"]
    return {"alice": alice, "alice_token": alice_token, "alice_slug": alice_slug,
            "bob": bob, "bob_token": bob_token, "bob_slug": bob_slug, "carol": carol,
            "dave": dave, "dave_token": dave_token, "room": room, "other": other,
            "first": first["mid"], "reply": reply["mid"]}  # fmt: skip


def test_rooms_room_users_and_messages_in_nodebb_shape(any_stack: Stack, rooms: dict) -> None:
    token, room = rooms["alice_token"], rooms["room"]
    listed = ok(get(any_stack, "/api/v3/chats/", token))["response"]
    assert [r["roomId"] for r in listed["rooms"]] == [rooms["other"], room]  # latest first
    mine = listed["rooms"][1]
    assert [u["uid"] for u in mine["users"]] == [rooms["bob"]] and mine["userCount"] == 2
    assert mine["teaser"]["content"] == "Much later" and mine["teaser"]["fromuid"] == rooms["bob"]
    assert mine["messageCount"] == 4 and mine["groupChat"] is False
    assert mine["unread"] is True  # Bob wrote last
    assert (
        ok(get(any_stack, "/api/v3/chats/", token, perPage=1, page=2))["response"]["rooms"][0][
            "roomId"
        ]
        == room
    )
    assert ok(get(any_stack, "/api/v3/chats/", token, start=5))["response"]["rooms"] == []

    loaded = ok(get(any_stack, f"/api/v3/chats/{room}", token))["response"]
    assert loaded["roomId"] == room and loaded["isOwner"] is True and loaded["userCount"] == 2
    assert [u["uid"] for u in loaded["users"]] == [rooms["alice"], rooms["bob"]]
    messages = loaded["messages"]
    assert [m["index"] for m in messages] == [0, 1, 2, 3]
    assert messages[0]["content"] == "<p>Hello <strong>Bob</strong></p>\n"
    assert [m["newSet"] for m in messages] == [True, False, True, True]  # sender, gap
    assert messages[0]["self"] == 1 and messages[2]["self"] == 0
    assert messages[2]["fromUser"]["uid"] == rooms["bob"] and messages[2]["timestampISO"]

    users = ok(get(any_stack, f"/api/v3/chats/{room}/users", token))["response"]["users"]
    # Both own a room opened for one other user (core's newRoom).
    assert [(u["uid"], u["isOwner"], u["canKick"]) for u in users] == [
        (rooms["alice"], True, False), (rooms["bob"], True, True)]  # fmt: skip
    page = ok(get(any_stack, f"/api/v3/chats/{room}/messages", token, start=2))["response"]
    assert [m["mid"] for m in page["messages"]] == [rooms["first"], messages[1]["mid"]]
    one = ok(get(any_stack, f"/api/v3/chats/{room}/messages/{rooms['reply']}", token))
    assert one["response"]["content"] == "<p>Yes, <em>here</em></p>\n"
    raw = ok(get(any_stack, f"/api/v3/chats/{room}/messages/{rooms['reply']}/raw", token))
    assert raw["response"] == {"content": "Yes, *here*"}


def test_only_members_read_a_room(any_stack: Stack, rooms: dict) -> None:
    room, mid = rooms["room"], rooms["reply"]
    _, admin_token, _ = new_user(any_stack, admin=True)
    paths = (f"/api/v3/chats/{room}", f"/api/v3/chats/{room}/users",
             f"/api/v3/chats/{room}/messages", f"/api/v3/chats/{room}/messages/{mid}",
             f"/api/v3/chats/{room}/messages/{mid}/raw")  # fmt: skip
    for path in paths:
        for outsider in (rooms["dave_token"], admin_token):  # NodeBB's assert.room
            body = refused(get(any_stack, path, outsider), 403)
            assert body["status"]["message"] == "[[error:no-privileges]]", path
        refused(get(any_stack, path), 401)
    refused(get(any_stack, "/api/v3/chats/"), 401)
    # Another user's rooms or messages are not listed, even to an administrator.
    alice = rooms["alice"]
    refused(get(any_stack, "/api/v3/chats/", admin_token, uid=alice), 403)
    refused(get(any_stack, f"/api/v3/chats/{room}/messages", rooms["bob_token"], uid=alice), 403)
    # Dave's own list has neither room.
    assert ok(get(any_stack, "/api/v3/chats/", rooms["dave_token"]))["response"]["rooms"] == []


def test_bad_room_and_message_ids_as_nodebb_asserts(any_stack: Stack, rooms: dict) -> None:
    token, room = rooms["alice_token"], rooms["room"]
    for path in ("/api/v3/chats/nope", "/api/v3/chats/1e999x/messages"):
        body = refused(get(any_stack, path, token), 400)
        assert body["status"]["message"] == "[[error:invalid-data]]"
    for path in ("/api/v3/chats/0", "/api/v3/chats/-3", "/api/v3/chats/99999999/users",
                 "/api/v3/chats/9223372036854775808"):  # fmt: skip
        body = refused(get(any_stack, path, token), 404)
        assert body["status"]["message"] == "[[error:chat-room-does-not-exist]]"
    # A message of another room, an unknown one, or not an id.
    other_mid = ok(get(any_stack, f"/api/v3/chats/{rooms['other']}", token))["response"][
        "messages"
    ][0]["mid"]
    for mid in (other_mid, 99999999, "x"):
        body = refused(get(any_stack, f"/api/v3/chats/{room}/messages/{mid}", token), 400)
        assert body["status"]["message"] == "[[error:invalid-mid]]"
        refused(get(any_stack, f"/api/v3/chats/{room}/messages/{mid}/raw", token), 400)
    # Paging past the end, or nonsense paging, is an empty page, never a 500.
    assert ok(get(any_stack, f"/api/v3/chats/{room}/messages", token, start="9" * 19))[
        "response"
    ] == {"messages": []}
    assert ok(get(any_stack, f"/api/v3/chats/{room}/messages", token, start=999))["response"] == {
        "messages": []
    }
    huge = "9" * 19
    for params in ({"start": "-5"}, {"start": "abc"}, {"perPage": "0"}, {"page": "-1"},
                   {"start": huge}, {"page": huge, "perPage": "100"}):  # fmt: skip
        ok(get(any_stack, "/api/v3/chats/", token, **params))
        ok(get(any_stack, f"/api/v3/chats/{room}/users", token, **params))


def test_banned_user_may_not_read_chats(any_stack: Stack, rooms: dict) -> None:
    with transaction(any_stack.database_url) as session:
        bans.ban(session, any_stack.admin_uid, rooms["bob"])
    body = refused(get(any_stack, f"/api/v3/chats/{rooms['room']}", rooms["bob_token"]), 403)
    assert body["status"]["message"] == "[[error:no-privileges]]"
    refused(get(any_stack, f"/api/user/{rooms['bob_slug']}/chats", rooms["bob_token"]), 403)


def test_chats_page_and_redirect(any_stack: Stack, rooms: dict) -> None:
    token, slug, room = rooms["alice_token"], rooms["alice_slug"], rooms["room"]
    documented = f"/api/user/{slug}/chats/{room}"  # read.yaml documents the room's page
    listing = ok(get(any_stack, f"/api/user/{slug}/chats", token), documented)
    assert [r["roomId"] for r in listing["rooms"]] == [rooms["other"], room]
    assert listing["uid"] == rooms["alice"] and "messages" not in listing
    page = ok(get(any_stack, documented, token))
    assert page["roomId"] == room and len(page["messages"]) == 4
    assert page["title"] == page["usernames"] and page["scrollToIndex"] is None
    assert page["messages"][0]["roomId"] == str(room)  # read.yaml: a string
    indexed = ok(get(any_stack, f"{documented}/2", token))
    assert indexed["scrollToIndex"] == 2
    # Another user's chats, a room of others, an unknown room: not found.
    refused(get(any_stack, f"/api/user/{rooms['bob_slug']}/chats", token), 404, documented)
    refused(get(any_stack, f"/api/user/{slug}/chats/{room}", rooms["dave_token"]), 404,
            documented)  # fmt: skip
    dave_slug = get(any_stack, "/api/self", rooms["dave_token"]).json()["userslug"]
    refused(get(any_stack, f"/api/user/{dave_slug}/chats/{room}", rooms["dave_token"]), 404,
            documented)  # fmt: skip
    for bad in ("999999999", "x"):
        refused(get(any_stack, f"/api/user/{slug}/chats/{bad}", token), 404, documented)
    refused(get(any_stack, documented), 401)
    moved = get(any_stack, f"/api/chats/{room}", token)
    assert moved.status_code == 200 and moved.json() == f"/user/{slug}/chats/{room}"
    assert unquote(moved.headers["x-redirect"]) == f"/user/{slug}/chats/{room}"
    assert get(any_stack, "/api/chats", token).json() == f"/user/{slug}/chats"
    # A guest is asked to log in (ensureLoggedIn), as on the page itself.
    for guest in ("/api/chats", f"/api/chats/{room}", f"/api/chats/{room}/2"):
        refused(get(any_stack, guest), 401)
    # /api/message/:mid: the chats page at that message (its index in the room, from 1).
    moved = get(any_stack, f"/api/message/{rooms['reply']}", token)
    assert moved.status_code == 200 and moved.json() == f"/user/{slug}/chats/{room}/3"
    assert get(any_stack, f"/api/message/{rooms['first']}", token).json() == (
        f"/user/{slug}/chats/{room}"
    )
    for mid in ("99999999", "x"):
        assert get(any_stack, f"/api/message/{mid}", token).status_code == 404
    refused(get(any_stack, f"/api/message/{rooms['reply']}"), 401)


def test_a_sent_message_is_in_the_next_read(any_stack: Stack, rooms: dict) -> None:
    token, room = rooms["bob_token"], rooms["room"]
    with any_stack.client(token) as client:
        sent = client.post(f"/api/v3/chats/{room}", json={"message": "Just *sent*"})
        assert sent.status_code == 200, sent.text
        mid = sent.json()["response"]["mid"]
        opened = client.post(f"/api/v2/users/{rooms['dave']}/chats", json={"message": "Hi"})
        assert opened.status_code == 200, opened.text
    messages = ok(get(any_stack, f"/api/v3/chats/{room}/messages", token))["response"]["messages"]
    assert messages[-1]["mid"] == mid and messages[-1]["content"] == "<p>Just <em>sent</em></p>\n"
    listed = ok(get(any_stack, "/api/v3/chats/", token))["response"]["rooms"]
    assert listed[0]["roomId"] == opened.json()["payload"]["roomId"]
    assert listed[1]["teaser"]["content"] == "Just *sent*"


def test_chat_routes_are_in_openapi_json_with_their_rules(any_stack: Stack) -> None:
    paths = get(any_stack, "/api/openapi.json").json()["paths"]
    for path in ("/api/v3/chats", "/api/v3/chats/{roomId}", "/api/v3/chats/{roomId}/users",
                 "/api/v3/chats/{roomId}/messages", "/api/v3/chats/{roomId}/messages/{mid}",
                 "/api/v3/chats/{roomId}/messages/{mid}/raw", "/api/user/{userslug}/chats",
                 "/api/user/{userslug}/chats/{roomid}/{index}", "/api/chats/{roomid}"):  # fmt: skip
        assert "get" in paths[path], path
    query = {p["name"]: p["schema"] for p in paths["/api/v3/chats"]["get"]["parameters"]
             if p.get("in") == "query"}  # fmt: skip
    assert query["perPage"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert query["start"] == {"type": "integer", "minimum": 0}


def test_what_room_writes_change_shows_in_the_next_read(any_stack: Stack, rooms: dict) -> None:
    """Edited, deleted and pinned messages, and a member added later (who sees only
    what was sent since), through core's v3 writes."""
    alice_token, bob_token, room = rooms["alice_token"], rooms["bob_token"], rooms["room"]
    reply, first = rooms["reply"], rooms["first"]
    with any_stack.client(bob_token) as bob, any_stack.client(alice_token) as alice:
        for response in (
            bob.put(f"/api/v3/chats/{room}/messages/{reply}", json={"message": "Edited *text*"}),
            bob.delete(f"/api/v3/chats/{room}/messages/{reply}"),
            alice.put(f"/api/v3/chats/{room}/messages/{first}/pin"),
            alice.post(f"/api/v3/chats/{room}/users", json={"uids": [rooms["dave"]]}),
            alice.post(f"/api/v3/chats/{room}", json={"message": "Welcome"}),
        ):
            assert response.status_code == 200, response.text
    seen_by_bob = ok(get(any_stack, f"/api/v3/chats/{room}/messages/{reply}", bob_token))
    assert seen_by_bob["response"]["deleted"] == 1 and seen_by_bob["response"]["edited"] > 0
    assert seen_by_bob["response"]["content"] == "<p>Edited <em>text</em></p>\n"
    seen_by_alice = ok(get(any_stack, f"/api/v3/chats/{room}/messages/{reply}", alice_token))
    assert seen_by_alice["response"]["content"] == "<p>[[modules:chat.message-deleted]]</p>\n"
    pinned = ok(get(any_stack, f"/api/v3/chats/{room}/messages/pinned", bob_token))["response"]
    assert [m["mid"] for m in pinned["messages"]] == [first]
    # Dave joined after four messages: he sees the welcome alone, as its room's first.
    dave = ok(get(any_stack, f"/api/v3/chats/{room}", rooms["dave_token"]))["response"]
    assert [(m["content"], m["index"]) for m in dave["messages"]] == [("<p>Welcome</p>\n", 0)]
    assert dave["userCount"] == 3 and dave["groupChat"] is True
    refused(get(any_stack, f"/api/v3/chats/{room}/messages/{first}", rooms["dave_token"]), 400)


def test_unread_rooms_as_core_marks_them(any_stack: Stack, rooms: dict) -> None:
    """A message marks its room unread for the other members and read for its sender;
    core's ``DELETE /chats/{roomId}/state`` reads a room, ``PUT`` marks it unread."""
    alice, bob, room = rooms["alice_token"], rooms["bob_token"], rooms["room"]

    def unread(token: str) -> tuple[int, list[int]]:
        count = ok(get(any_stack, "/api/v3/chats/unread", token))["response"]["count"]
        listed = ok(get(any_stack, "/api/v3/chats/", token))["response"]["rooms"]
        return count, [r["roomId"] for r in listed if r["unread"]]

    assert unread(alice) == (2, [rooms["other"], room])  # Bob and Carol wrote last
    assert unread(bob) == (0, [])
    assert unread(rooms["dave_token"]) == (0, [])
    with any_stack.client(alice) as client:
        marked = client.delete(f"/api/v3/chats/{room}/state")
        assert marked.status_code == 200, marked.text
        assert check_answer(marked) == {"status": {"code": "ok", "message": "OK"}, "response": {}}
    assert unread(alice) == (1, [rooms["other"]])
    with any_stack.client(bob) as client:
        assert client.post(f"/api/v3/chats/{room}", json={"message": "News"}).status_code == 200
    assert unread(alice) == (2, [room, rooms["other"]])
    with any_stack.client(alice) as client:
        assert client.post(f"/api/v3/chats/{room}", json={"message": "Read"}).status_code == 200
    assert unread(alice) == (1, [rooms["other"]]) and unread(bob) == (1, [room])
    with any_stack.client(bob) as client:
        assert check_answer(client.put(f"/api/v3/chats/{room}/state"))["response"] == {}
        assert client.delete(f"/api/v3/chats/{rooms['other']}/state").status_code == 200
        missing = client.put("/api/v3/chats/99999999/state")
        assert missing.status_code == 404, missing.text
        assert check_answer(missing)["status"]["message"] == "[[error:chat-room-does-not-exist]]"
    assert unread(bob) == (1, [room])  # a room Bob is not in never counts for him
    refused(get(any_stack, "/api/v3/chats/unread"), 401)

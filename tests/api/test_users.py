"""User routes over HTTP through the queue: profile, delete, password, follows, bans."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select, text

from forum.models import ApiToken, Category, Job, Post, Topic, User, UserFollow
from forum.passwords import verify_password
from tests.support import Stack, error, ok, user_with_token

CONTENT = "Some content that is long enough"


def user_row(stack: Stack, uid: int) -> User | None:
    with stack.session() as session:
        return session.get(User, uid)


# --- PUT /users/{uid} ---------------------------------------------------------------------


def test_profile_update_by_self_sets_whitelisted_fields(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    name = f"renamed{uuid.uuid4().hex[:6]}"
    with stack.client(token) as client:
        payload = ok(
            client.put(
                f"/api/v1/users/{uid}",
                json={
                    "username": name,
                    "email": f"{name}@example.org",
                    "fullname": "Full Name",
                    "website": "https://example.org",
                    "location": "Here",
                    "birthday": "1990-01-31",
                    "signature": "sig",
                    "aboutme": "about",
                    "uid": uid,
                },
            )
        )
    assert payload["uid"] == uid and payload["fullname"] == "Full Name"  # the user, updated
    row = user_row(stack, uid)
    assert row.username == name and row.userslug == name and row.email == f"{name}@example.org"
    assert row.profile == {
        "fullname": "Full Name",
        "website": "https://example.org",
        "location": "Here",
        "birthday": "1990-01-31",
        "signature": "sig",
        "aboutme": "about",
    }


@pytest.mark.parametrize("field", ["reputation", "banned", "groups", "postcount", "password"])
def test_profile_update_refuses_other_fields_and_changes_nothing(stack: Stack, field: str) -> None:
    uid, token = user_with_token(stack.database_url)
    before = user_row(stack, uid)
    with stack.client(token) as client:
        response = client.put(f"/api/v2/users/{uid}", json={"fullname": "X", field: 100})
    error(response, 400, "bad-request")
    assert response.json()["params"] == [field]
    after = user_row(stack, uid)
    assert (after.reputation, after.banned, after.postcount, after.profile) == (
        before.reputation,
        before.banned,
        before.postcount,
        before.profile,
    )


def test_profile_update_cannot_retarget_uid(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    with stack.client(token) as client:
        response = client.put(
            f"/api/v1/users/{uid}", data={"uid": stack.admin_uid, "fullname": "x"}
        )
    error(response, 400, "bad-request")
    assert response.json()["params"] == ["uid"]


def test_profile_update_privileges(stack: Stack) -> None:
    uid, _ = user_with_token(stack.database_url)
    other, other_token = user_with_token(stack.database_url)
    with stack.client(other_token) as client:
        mismatch = client.put(f"/api/v1/users/{uid}", json={"fullname": "Hijack"})
    with stack.client() as client:
        anonymous = client.put(f"/api/v1/users/{uid}", json={"fullname": "Anon"})
    with stack.client(stack.admin_token) as client:
        by_admin = client.put(f"/api/v2/users/{uid}", json={"location": "Set by admin"})
        unknown = client.put("/api/v2/users/99999999", json={"location": "x"})
    with stack.client(stack.master_token) as client:
        master_self = client.put(f"/api/v1/users/{uid}", json={"fullname": "Master", "_uid": uid})
        master_other = client.put(f"/api/v1/users/{uid}", json={"fullname": "M", "_uid": other})
        master_no_uid = client.put(f"/api/v1/users/{uid}", json={"fullname": "M"})
    error(mismatch, 401, "not-authorised")
    error(anonymous, 401, "not-authorised")
    ok(by_admin)
    error(unknown, 404, "not-found")
    ok(master_self)
    error(master_other, 401, "not-authorised")
    error(master_no_uid, 400, "params-missing")
    assert master_no_uid.json()["params"] == ["_uid"]
    assert user_row(stack, uid).profile == {"location": "Set by admin", "fullname": "Master"}


def test_profile_update_validation(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    taken, _ = user_with_token(stack.database_url)
    with stack.client(token) as client:
        bad_email = client.put(f"/api/v1/users/{uid}", json={"email": "not-an-email"})
        username_taken = client.put(
            f"/api/v1/users/{uid}", json={"username": user_row(stack, taken).username}
        )
        long_signature = client.put(f"/api/v1/users/{uid}", json={"signature": "s" * 256})
        wrong_type = client.put(f"/api/v1/users/{uid}", json={"fullname": 5})
        not_numeric = client.put("/api/v1/users/abc", json={"fullname": "x"})
    error(bad_email, 400, "bad-request", "invalid-email")
    error(username_taken, 400, "bad-request", "username-taken")
    error(long_signature, 400, "bad-request", "signature-too-long")
    error(wrong_type, 400, "bad-request")
    assert wrong_type.json()["params"] == ["fullname"]
    error(not_numeric, 404, "not-found")
    assert user_row(stack, uid).profile == {}


def test_an_email_held_in_another_case_is_email_taken(any_stack: Stack) -> None:
    """NodeBB keys addresses in lower case: creating or editing a user with another
    user's address in any case is 400 ``email-taken``; an address keeps its case."""
    email = f"Held.{uuid.uuid4().hex[:8]}@Example.org"
    with any_stack.client(any_stack.admin_token) as client:
        holder = client.post("/api/v1/users", json={"username": f"h{uuid.uuid4().hex[:8]}",
                                                     "email": email})  # fmt: skip
        name = f"c{uuid.uuid4().hex[:8]}"
        create = client.post("/api/v1/users", json={"username": name, "email": email.upper()})
    uid, token = user_with_token(any_stack.database_url)
    with any_stack.client(token) as client:
        edit = client.put(f"/api/v2/users/{uid}", json={"email": email.lower()})
    assert user_row(any_stack, ok(holder)["uid"]).email == email
    error(create, 400, "bad-request", "email-taken")
    error(edit, 400, "bad-request", "email-taken")
    with any_stack.session() as session:
        assert session.scalar(select(func.count()).where(User.username == name)) == 0
    assert user_row(any_stack, uid).email is None


def test_concurrent_creates_of_one_address_in_different_cases_leave_one_user(
    stack: Stack,
) -> None:
    """Whether two creates meet in one worker's batch or race in two workers (the
    index refuses the later one), every other create is 400 email-taken, never 500."""
    email = f"race.{uuid.uuid4().hex[:8]}@example.org"
    cases = [email, email.upper(), email.capitalize(), email.swapcase(), email.title()] * 2

    def create(address: str) -> httpx.Response:
        with stack.client(stack.admin_token, Prefer="wait=30") as client:
            return client.post("/api/v1/users", json={"username": f"r{uuid.uuid4().hex[:8]}",
                                                       "email": address})  # fmt: skip

    with ThreadPoolExecutor(len(cases)) as pool:
        responses = list(pool.map(create, cases))
    created = [r for r in responses if r.status_code == 200]
    assert len(created) == 1, [r.text for r in responses]
    for response in responses:
        if response.status_code != 200:
            error(response, 400, "bad-request", "email-taken")
    with stack.session() as session:
        holders = select(User.uid).where(func.lower(User.email) == email)
        assert list(session.scalars(holders)) == [ok(created[0])["uid"]]


# --- DELETE /users/{uid} ------------------------------------------------------------------


def test_delete_user_removes_content_tokens_and_keeps_counters(stack: Stack) -> None:
    doomed, doomed_token = user_with_token(stack.database_url)
    other, other_token = user_with_token(stack.database_url)
    with stack.client(doomed_token) as client:
        own_tid = ok(
            client.post(
                "/api/v1/topics",
                json={"title": "Doomed topic", "content": CONTENT, "cid": stack.cid},
            )
        )["topicData"]["tid"]
    with stack.client(other_token) as client:
        ok(client.post(f"/api/v1/topics/{own_tid}", json={"content": "other's reply here"}))
        other_tid = ok(
            client.post(
                "/api/v1/topics", json={"title": "Survivor", "content": CONTENT, "cid": stack.cid}
            )
        )["topicData"]["tid"]
        ok(client.put(f"/api/v2/users/{doomed}/follow"))
    with stack.client(doomed_token) as client:
        ok(client.post(f"/api/v1/topics/{other_tid}", json={"content": "doomed reply here"}))
        ok(client.post(f"/api/v1/users/{other}/follow"))
    with stack.session() as session:
        category = session.get(Category, stack.cid)
        topics_before, posts_before = category.topic_count, category.post_count
        assert session.get(User, other).postcount == 2
    with stack.client(doomed_token) as client:
        assert ok(client.delete(f"/api/v1/users/{doomed}")) == {}
    with stack.session() as session:
        assert session.get(User, doomed) is None
        assert session.scalar(select(func.count()).where(ApiToken.uid == doomed)) == 0
        assert session.get(Topic, own_tid) is None
        assert session.scalar(select(func.count()).where(Post.uid == doomed)) == 0
        category = session.get(Category, stack.cid)
        assert category.topic_count == topics_before - 1
        assert category.post_count == posts_before - 3  # own topic (2 posts) + 1 reply
        survivor = session.get(Topic, other_tid)
        assert (survivor.postcount, survivor.postercount) == (1, 1)
        assert survivor.teaser_pid is None
        remaining = session.get(User, other)
        assert remaining.postcount == 1  # their reply in the purged topic went with it
        assert (remaining.follower_count, remaining.following_count) == (0, 0)
        assert session.scalar(select(func.count()).where(UserFollow.followee_uid == other)) == 0


def test_delete_user_privileges(stack: Stack) -> None:
    uid, _ = user_with_token(stack.database_url)
    other, other_token = user_with_token(stack.database_url)
    with stack.client(other_token) as client:
        mismatch = client.delete(f"/api/v2/users/{uid}")
    with stack.client(stack.master_token) as client:
        master_other = client.delete(f"/api/v1/users/{uid}", params={"_uid": other})
        by_admin = client.delete(f"/api/v1/users/{uid}", params={"_uid": stack.admin_uid})
        again = client.delete(f"/api/v1/users/{uid}", params={"_uid": stack.admin_uid})
    error(mismatch, 401, "not-authorised")
    error(master_other, 401, "not-authorised")
    ok(by_admin)
    error(again, 404, "not-found")
    assert user_row(stack, uid) is None and user_row(stack, other) is not None


# --- PUT /users/{uid}/password ------------------------------------------------------------


def test_password_change(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url, password="old-password")
    other, other_token = user_with_token(stack.database_url, password="other-password")
    with stack.client(token) as client:
        missing_new = client.put(f"/api/v1/users/{uid}/password", json={"current": "old-password"})
        missing_current = client.put(f"/api/v1/users/{uid}/password", json={"new": "new-password"})
        wrong = client.put(
            f"/api/v2/users/{uid}/password", json={"new": "new-password", "current": "nope-nope"}
        )
        too_short = client.put(
            f"/api/v2/users/{uid}/password", json={"new": "abc", "current": "old-password"}
        )
        good = client.put(
            f"/api/v1/users/{uid}/password", data={"new": "new-password", "current": "old-password"}
        )
    with stack.client(other_token) as client:
        mismatch = client.put(
            f"/api/v1/users/{uid}/password",
            json={"new": "hacked-password", "current": "other-password"},
        )
    with stack.client(stack.admin_token) as client:
        by_admin = client.put(f"/api/v1/users/{other}/password", json={"new": "reset-by-admin"})
    error(missing_new, 400, "params-missing")
    assert missing_new.json()["params"] == ["new"]
    error(missing_current, 400, "params-missing")
    assert missing_current.json()["params"] == ["current"]
    error(wrong, 400, "bad-request", "change-password-error-wrong-current")
    error(too_short, 400, "bad-request", "password-too-short")
    assert ok(good) == {}
    error(mismatch, 401, "not-authorised")
    ok(by_admin)
    assert verify_password("new-password", user_row(stack, uid).password_hash)
    assert verify_password("reset-by-admin", user_row(stack, other).password_hash)
    with stack.session() as session:  # no secret is kept in the job table
        commands = session.scalars(select(Job.command).where(Job.kind == "users.password"))
        assert all("new-password" not in str(c) for c in commands)


# --- follow / unfollow --------------------------------------------------------------------


def test_follow_and_unfollow_v1_v2(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    target, _ = user_with_token(stack.database_url)
    with stack.client(token) as client:
        ok(client.post(f"/api/v1/users/{target}/follow"))
        again = client.put(f"/api/v2/users/{target}/follow")
        self_follow = client.post(f"/api/v1/users/{uid}/follow")
        unknown = client.post("/api/v1/users/99999999/follow")
        wrong_verb = client.put(f"/api/v1/users/{target}/follow")
        assert (user_row(stack, uid).following_count, user_row(stack, target).follower_count) == (
            1,
            1,
        )
        ok(client.delete(f"/api/v2/users/{target}/follow"))
        not_following = client.delete(f"/api/v1/users/{target}/follow")
    error(again, 400, "bad-request", "already-following")
    error(self_follow, 400, "bad-request", "you-cant-follow-yourself")
    error(unknown, 404, "not-found")
    error(wrong_verb, 404, "not-found")
    error(not_following, 400, "bad-request", "not-following")
    assert (user_row(stack, uid).following_count, user_row(stack, target).follower_count) == (0, 0)
    with stack.client() as client:
        error(client.put(f"/api/v2/users/{target}/follow"), 401, "not-authorised")


def test_master_token_follows_as_uid(stack: Stack) -> None:
    uid, _ = user_with_token(stack.database_url)
    target, _ = user_with_token(stack.database_url)
    with stack.client(stack.master_token) as client:
        ok(client.put(f"/api/v2/users/{target}/follow", json={"_uid": uid}))
        missing = client.put(f"/api/v2/users/{target}/follow")
        bad_uid = client.put(f"/api/v2/users/{target}/follow", json={"_uid": 99999999})
    error(missing, 400, "params-missing")
    error(bad_uid, 400, "bad-request")
    with stack.session() as session:
        assert session.get(UserFollow, (uid, target)) is not None


# --- ban / unban --------------------------------------------------------------------------


def test_ban_v1_is_permanent_and_blocks_posting(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    _, other_token = user_with_token(stack.database_url)
    with stack.client(other_token) as client:
        error(client.post(f"/api/v1/users/{uid}/ban"), 403, "forbidden")
    with stack.client(stack.admin_token) as client:
        ok(client.post(f"/api/v1/users/{uid}/ban", json={"until": 1, "reason": "ignored"}))
        cant_ban_admin = client.post(f"/api/v1/users/{stack.admin_uid}/ban")
        unknown = client.post("/api/v1/users/99999999/ban")
    error(cant_ban_admin, 400, "bad-request", "cant-ban-other-admins")
    error(unknown, 404, "not-found")
    row = user_row(stack, uid)
    assert (row.banned, row.banned_until, row.ban_reason) == (True, 0, "")
    with stack.client(token) as client:
        refused = client.post(
            "/api/v1/topics", json={"title": "Banned", "content": CONTENT, "cid": stack.cid}
        )
    error(refused, 400, "bad-request", "user-banned")
    with stack.client(stack.admin_token) as client:
        ok(client.delete(f"/api/v1/users/{uid}/ban"))
    assert user_row(stack, uid).banned is False
    with stack.client(token) as client:
        ok(
            client.post(
                "/api/v1/topics", json={"title": "Unbanned", "content": CONTENT, "cid": stack.cid}
            )
        )


def test_ban_v2_until_and_reason(stack: Stack) -> None:
    uid, _ = user_with_token(stack.database_url)
    with stack.client(stack.master_token) as client:
        as_user = client.put(f"/api/v2/users/{uid}/ban", json={"_uid": uid})
        past = client.put(f"/api/v2/users/{uid}/ban", json={"_uid": stack.admin_uid, "until": 1000})
        for_good = user_row(stack, uid)
        bad_until = client.put(
            f"/api/v2/users/{uid}/ban", json={"_uid": stack.admin_uid, "until": "soon"}
        )
        ok(
            client.put(
                f"/api/v2/users/{uid}/ban",
                json={"_uid": stack.admin_uid, "until": 4102444800000, "reason": "spam"},
            )
        )
        wrong_verb = client.post(f"/api/v2/users/{uid}/ban", json={"_uid": stack.admin_uid})
    error(as_user, 403, "forbidden")
    # A time already past bans for good, as NodeBB's User.bans.ban does.
    ok(past)
    assert (for_good.banned, for_good.banned_until) == (True, 0)
    error(bad_until, 400, "bad-request")
    assert bad_until.json()["params"] == ["until"]
    error(wrong_verb, 404, "not-found")
    row = user_row(stack, uid)
    assert (row.banned, row.banned_until, row.ban_reason) == (True, 4102444800000, "spam")
    with stack.client(stack.admin_token) as client:
        ok(client.delete(f"/api/v2/users/{uid}/ban"))
    assert user_row(stack, uid).banned is False


def test_expired_ban_does_not_block_posting(any_stack: Stack) -> None:
    uid, token = user_with_token(any_stack.database_url)
    with any_stack.session() as session, session.begin():
        user = session.get(User, uid)
        user.banned, user.banned_until = True, 1000  # ended long ago
    with any_stack.client(token) as client:
        ok(
            client.post(
                "/api/v1/topics",
                json={"title": "Free again", "content": CONTENT, "cid": any_stack.cid},
            )
        )


def test_routes_per_version(stack: Stack) -> None:
    from api import users

    v1 = {(r.method, r.path) for r in users.routes("v1")}
    v2 = {(r.method, r.path) for r in users.routes("v2")}
    assert len(v1) == len(v2) == 12
    assert ("POST", "/users/{uid}/follow") in v1 and ("PUT", "/users/{uid}/follow") in v2
    assert ("POST", "/users/{uid}/ban") in v1 and ("PUT", "/users/{uid}/ban") in v2


def test_create_user_never_queues_the_password(stack: Stack) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    with stack.client(stack.admin_token) as client:
        short = client.post("/api/v1/users", json={"username": "shorty", "password": "abc"})
        created = client.post(
            "/api/v1/users", json={"username": f"pw{uuid.uuid4().hex[:6]}", "password": secret}
        )
    assert short.status_code == 400 and short.json()["message"] == "password-too-short"
    assert created.status_code == 200
    with stack.session() as session:
        stored = session.execute(text("SELECT command::text, result::text FROM jobs")).all()
        assert not any(secret in (command or "") + (result or "") for command, result in stored)
        user = session.get(User, created.json()["payload"]["uid"])
        assert user is not None and verify_password(secret, user.password_hash)

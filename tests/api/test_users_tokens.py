"""Token routes: a first token with a password, listing, revoking
(plugin-write-api.md §2.4, routes 10-12; decisions 4 and 11)."""

import time
import uuid

import pytest
from sqlalchemy import func, select, text

from forum.models import ApiToken
from forum.passwords import verify_password
from tests.support import Stack, user_with_token

PASSWORD = "a fine password"
NOT_AUTHORISED = {
    "code": "not-authorised",
    "message": "A valid login session was not found. Please log in and try again.",
    "params": {},
}
NO_TOKEN = {"code": "not-found", "message": "no-token", "params": {}}


def _token_rows(stack: Stack, uid: int) -> int:
    with stack.session() as session:
        return session.scalar(select(func.count()).where(ApiToken.uid == uid))  # type: ignore[return-value]


def _ping_uid(stack: Stack, token: str) -> int | None:
    with stack.client(token) as client:
        response = client.post("/api/v1/ping")
    if response.status_code == 401:
        return None
    return response.json()["params"]["uid"]


@pytest.fixture(scope="module")
def owner(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url, password=PASSWORD)


def test_password_gives_a_first_token(stack: Stack, owner: tuple[int, str]) -> None:
    uid, _ = owner
    before = _token_rows(stack, uid)
    with stack.client() as client:
        v1 = client.post(f"/api/v1/users/{uid}/tokens", json={"password": PASSWORD})
        v2 = client.post(f"/api/v2/users/{uid}/tokens", data={"password": PASSWORD})
    secrets = []
    for response in (v1, v2):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["code"] == "ok"
        secret = body["payload"]["token"]
        assert len(secret) == 36 and body["payload"]["prefix"] == secret[:8]
        assert body["payload"]["uid"] == uid
        secrets.append(secret)
    assert secrets[0] != secrets[1]
    assert _token_rows(stack, uid) == before + 2
    assert [_ping_uid(stack, s) for s in secrets] == [uid, uid]


def test_wrong_or_missing_password(stack: Stack, owner: tuple[int, str]) -> None:
    uid, _ = owner
    passwordless, _ = user_with_token(stack.database_url)
    before = _token_rows(stack, uid)
    with stack.client() as client:
        wrong = [
            client.post(f"/api/v1/users/{uid}/tokens", json={"password": "not it"}),
            client.post(f"/api/v2/users/{uid}/tokens", json={"password": PASSWORD.upper()}),
            client.post(f"/api/v1/users/{uid}/tokens", json={"password": ""}),
            client.post(f"/api/v1/users/{passwordless}/tokens", json={"password": ""}),
            client.post("/api/v1/users/987654321/tokens", json={"password": PASSWORD}),
            client.post(f"/api/v1/users/{uid}/tokens"),  # v1: no password is no login
        ]
        missing = client.post(f"/api/v2/users/{uid}/tokens", json={})
    for response in wrong:
        assert response.status_code == 401, response.text
        assert response.json() == NOT_AUTHORISED
    assert missing.status_code == 400
    assert missing.json()["code"] == "params-missing" and missing.json()["params"] == ["password"]
    assert _token_rows(stack, uid) == before


def test_password_counts_only_on_the_token_route(stack: Stack, owner: tuple[int, str]) -> None:
    uid, _ = owner
    with stack.client() as client:
        ping = client.post("/api/v1/ping", json={"password": PASSWORD})
        listing = client.get(f"/api/v1/users/{uid}/tokens", params={"password": PASSWORD})
    assert ping.status_code == listing.status_code == 401


def test_token_route_with_a_token_is_self_only(stack: Stack, owner: tuple[int, str]) -> None:
    uid, token = owner
    with stack.client(token) as client:
        own = client.post(f"/api/v1/users/{uid}/tokens")
    with stack.client(stack.admin_token) as client:  # admins are not exempt
        other = client.post(f"/api/v1/users/{uid}/tokens")
    with stack.client(stack.master_token) as client:
        as_uid = client.post(f"/api/v2/users/{uid}/tokens", json={"_uid": uid})
    assert own.status_code == 200, own.text
    assert _ping_uid(stack, own.json()["payload"]["token"]) == uid
    assert other.status_code == 401 and other.json() == NOT_AUTHORISED
    assert as_uid.status_code == 200, as_uid.text
    assert as_uid.json()["payload"]["uid"] == uid


def test_list_shows_ids_and_prefixes_never_secrets(stack: Stack, owner: tuple[int, str]) -> None:
    uid, token = owner
    with stack.client(token) as client:
        listing = client.get(f"/api/v1/users/{uid}/tokens")
        other = client.get(f"/api/v1/users/{stack.admin_uid}/tokens")
    assert listing.status_code == 200, listing.text
    tokens = listing.json()["payload"]["tokens"]
    assert tokens and all({"id", "prefix", "createdAt"} <= set(t) for t in tokens)
    assert token[:8] in {t["prefix"] for t in tokens}
    assert token not in listing.text
    assert other.status_code == 401 and other.json() == NOT_AUTHORISED


def test_revoke(stack: Stack) -> None:
    alice, alices = user_with_token(stack.database_url)
    bob, bobs = user_with_token(stack.database_url)
    assert _ping_uid(stack, alices) == alice  # warm the API's token cache on purpose
    with stack.client(alices) as client:
        not_hers = client.delete(f"/api/v1/users/{alice}/tokens/{bobs}")
        other_path = client.delete(f"/api/v1/users/{bob}/tokens/{bobs}")
        unknown = client.delete(f"/api/v2/users/{alice}/tokens/00000000-0000-4000-8000-0000000000")
        revoked = client.delete(f"/api/v1/users/{alice}/tokens/{alices}")
    assert not_hers.status_code == 404 and not_hers.json() == NO_TOKEN
    assert unknown.status_code == 404 and unknown.json() == NO_TOKEN
    assert other_path.status_code == 401 and other_path.json() == NOT_AUTHORISED
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"code": "ok", "payload": {}}
    with stack.session() as session:
        assert session.scalar(select(ApiToken).where(ApiToken.uid == alice)) is None
    time.sleep(2.5)  # token_cache_seconds is 2
    assert _ping_uid(stack, alices) is None
    assert _ping_uid(stack, bobs) == bob


def test_secrets_never_reach_the_jobs_table(stack: Stack) -> None:
    uid, _ = user_with_token(stack.database_url, password=PASSWORD)
    with stack.client() as client:
        minted = client.post(f"/api/v1/users/{uid}/tokens", json={"password": PASSWORD})
    secret = minted.json()["payload"]["token"]
    with stack.client(secret) as client:
        revoked = client.delete(f"/api/v1/users/{uid}/tokens/{secret}")
    assert revoked.status_code == 200, revoked.text
    with stack.session() as session:
        rows = session.execute(text("SELECT * FROM jobs WHERE actor_uid = :uid"), {"uid": uid})
        dumped = [repr(tuple(row)) for row in rows]
    assert len(dumped) == 2
    assert not any(secret in row or PASSWORD in row for row in dumped)


def _from_elsewhere() -> dict[str, str]:
    """Headers of a client with an address of its own (uvicorn trusts X-Forwarded-For
    from 127.0.0.1): the tests' attempts never add up on one address."""
    n = uuid.uuid4().int
    return {"X-Forwarded-For": f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"}


def test_a_uid_is_locked_out_after_five_wrong_passwords(any_stack: Stack) -> None:
    """NodeBB's loginAttempts (5) and lockoutDuration (60 minutes), per uid."""
    uid, _ = user_with_token(any_stack.database_url, password=PASSWORD)
    route = f"/api/v2/users/{uid}/tokens"
    with any_stack.client() as client:
        wrong = [client.post(route, json={"password": f"guess {n}"}, headers=_from_elsewhere())
                 for n in range(5)]  # fmt: skip
        # Right at last, and from another address: the uid itself is locked.
        right = client.post(route, json={"password": PASSWORD}, headers=_from_elsewhere())
        v1 = client.post(f"/api/v1/users/{uid}/tokens", json={"password": PASSWORD})
    assert [r.status_code for r in wrong] == [401] * 5
    for locked in (right, v1):
        assert locked.status_code == 429, locked.text
        assert 3590 <= int(locked.headers["Retry-After"]) <= 3600
        body = locked.json()
        assert body["code"] == "too-many-requests"
        assert body["params"] == {"retry_after": int(locked.headers["Retry-After"])}
    assert "token" not in right.text


def test_a_right_password_resets_the_count(any_stack: Stack) -> None:
    uid, _ = user_with_token(any_stack.database_url, password=PASSWORD)
    route = f"/api/v1/users/{uid}/tokens"
    with any_stack.client(**_from_elsewhere()) as client:
        for _ in range(2):
            for n in range(4):
                assert client.post(route, json={"password": f"guess {n}"}).status_code == 401
            assert client.post(route, json={"password": PASSWORD}).status_code == 200


def test_a_client_address_is_locked_out_across_uids(stack: Stack) -> None:
    """One address guessing one password each on many uids: 50 attempts an hour."""
    first = 900_000_000 + uuid.uuid4().int % 10**8
    with stack.client(**_from_elsewhere()) as client:
        answers = [client.post(f"/api/v1/users/{first + n}/tokens", json={"password": PASSWORD})
                   for n in range(51)]  # fmt: skip
    with stack.client(**_from_elsewhere()) as client:
        elsewhere = client.post(f"/api/v1/users/{first}/tokens", json={"password": PASSWORD})
    assert [r.status_code for r in answers] == [401] * 50 + [429]
    assert elsewhere.status_code == 401


def test_a_missing_uid_answers_like_a_wrong_password_in_the_same_time(stack: Stack) -> None:
    """Existing (with or without a password) or not: one status, one body, one time."""
    kinds = {
        "password": lambda: user_with_token(stack.database_url, password=PASSWORD)[0],
        "passwordless": lambda: user_with_token(stack.database_url)[0],
        "missing": lambda: 800_000_000 + uuid.uuid4().int % 10**8,
    }
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    bodies = set()
    with stack.client() as client:
        for _ in range(4):
            for kind, new_uid in kinds.items():
                uid = new_uid()
                started = time.perf_counter()
                answer = client.post(f"/api/v1/users/{uid}/tokens", json={"password": "not it"},
                                     headers=_from_elsewhere())  # fmt: skip
                timings[kind].append(time.perf_counter() - started)
                assert answer.status_code == 401
                bodies.add(answer.text)
    assert len(bodies) == 1
    fastest = {kind: min(times) for kind, times in timings.items()}
    # scrypt (tens of ms) runs for every kind; without it a missing uid took a few ms.
    assert max(fastest.values()) < 2 * min(fastest.values()), fastest


def test_guesses_of_the_current_password_are_locked_out(any_stack: Stack) -> None:
    """The password change's ``current`` is a password guess too: five wrong ones on any
    router lock the uid (this route and the token route) like five on the token route."""
    uid, token = user_with_token(any_stack.database_url, password=PASSWORD)
    with any_stack.client(token, Prefer="wait=30") as client:
        wrong = [
            client.put(f"/api/{router}/users/{uid}/password",
                       json={"new": "another password", "current": f"guess {n}"},
                       headers=_from_elsewhere())
            for n, router in enumerate(["v1", "v2", "v1", "v2", "v1"])
        ]  # fmt: skip
        # Right at last, from another address, on core's names: the uid is locked.
        right = client.put(f"/api/v3/users/{uid}/password",
                           json={"newPassword": "another password", "currentPassword": PASSWORD},
                           headers=_from_elsewhere())  # fmt: skip
    with any_stack.client(**_from_elsewhere()) as client:
        login = client.post(f"/api/v2/users/{uid}/tokens", json={"password": PASSWORD})
    assert [r.status_code for r in wrong] == [400] * 5, [r.text for r in wrong]
    assert {r.json()["message"] for r in wrong} == {"change-password-error-wrong-current"}
    for locked in (right, login):
        assert locked.status_code == 429, locked.text
        assert 3590 <= int(locked.headers["Retry-After"]) <= 3600
    with any_stack.session() as session:  # unchanged: the locked-out change never ran
        stored = session.scalar(text("SELECT password_hash FROM users WHERE uid = :uid"),
                                {"uid": uid})  # fmt: skip
    assert verify_password(PASSWORD, stored)


def test_a_right_current_password_takes_its_guess_back(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url, password=PASSWORD)
    route = f"/api/v2/users/{uid}/password"
    with stack.client(token, Prefer="wait=30", **_from_elsewhere()) as client:
        for _ in range(2):
            for n in range(4):
                wrong = client.put(route, json={"new": PASSWORD, "current": f"guess {n}"})
                assert wrong.status_code == 400, wrong.text
            assert client.put(route, json={"new": PASSWORD, "current": PASSWORD}).status_code == 200

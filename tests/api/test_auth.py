"""Who is calling (plugin-write-api.md §2, decisions 1, 9, 10): bearer user and master
tokens, ``_uid``, JWT. ``POST /ping`` answers with the uid the server settled on."""

import time
import warnings
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from forum.models import Topic
from tests.support import JWT_SECRET, Stack, unique, user_with_token

SECRET = JWT_SECRET
NOT_AUTHORISED = {
    "code": "not-authorised",
    "message": "A valid login session was not found. Please log in and try again.",
    "params": {},
}
PARAMS_MISSING_MESSAGE = (
    'Required parameters were missing from this API call, please see the "params" property'
)


def pong(uid: int) -> dict[str, Any]:
    return {
        "code": "ok",
        "message": f"pong, accepted test POST ping for uid {uid}",
        "params": {"uid": uid},
    }


def sign(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some tests sign with short keys on purpose
        return jwt.encode(claims, key, algorithm=algorithm)


@pytest.fixture(scope="module")
def member(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


def test_user_token(stack: Stack, member: tuple[int, str]) -> None:
    uid, token = member
    for scheme in ("Bearer", "bearer", "BEARER"):
        with stack.client(Authorization=f"{scheme} {token}") as client:
            response = client.post("/api/v1/ping")
        assert response.status_code == 200
        assert response.json() == pong(uid)
    with stack.client(token) as client:
        assert client.post("/api/v2/ping").json() == pong(uid)


def test_user_token_ignores_uid_in_body(stack: Stack, member: tuple[int, str]) -> None:
    uid, token = member
    with stack.client(token) as client:
        response = client.post(f"/api/v1/ping?_uid={stack.admin_uid}", json={"_uid": 1})
    assert response.json() == pong(uid)


def test_master_token_with_uid_in_body_or_query(stack: Stack, member: tuple[int, str]) -> None:
    uid, _ = member
    with stack.client(stack.master_token) as client:
        in_json = client.post("/api/v1/ping", json={"_uid": uid})
        in_form = client.post("/api/v1/ping", data={"_uid": str(uid)})
        in_query = client.post(f"/api/v1/ping?_uid={uid}")
        # A body value wins over the query (§2.3).
        both = client.post(f"/api/v2/ping?_uid={stack.admin_uid}", json={"_uid": uid})
    for response in (in_json, in_form, in_query, both):
        assert response.status_code == 200, response.text
        assert response.json() == pong(uid)


def test_master_token_without_uid(stack: Stack) -> None:
    with stack.client(stack.master_token) as client:
        responses = [
            client.post("/api/v1/ping"),
            client.post("/api/v2/ping", json={"_uid": ""}),
            client.post("/api/v1/topics", json={"title": "t", "content": "c" * 10, "cid": 1}),
        ]
    for response in responses:
        assert response.status_code == 400
        assert response.json() == {
            "code": "params-missing",
            "message": PARAMS_MISSING_MESSAGE,
            "params": ["_uid"],
        }


@pytest.mark.parametrize("raw", ["987654321", "0", "-1", "abc", "1.5", "²", "٣", "9" * 30])
def test_master_token_uid_must_name_a_user(stack: Stack, raw: str) -> None:
    with stack.client(stack.master_token) as client:
        in_body = client.post("/api/v1/ping", json={"_uid": raw})
        in_query = client.post("/api/v1/ping", params={"_uid": raw})
    for response in (in_body, in_query):
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "bad-request" and body["params"] == ["_uid"]


def test_unknown_token_and_malformed_headers(stack: Stack) -> None:
    headers = [
        "Bearer 00000000-0000-4000-8000-000000000000",
        f"Bearer {stack.master_token}x",
        "Bearer",
        f"Basic {stack.admin_token}",
        stack.admin_token,
        "",
    ]
    for header in headers:
        with httpx.Client(base_url=stack.base_url, headers={"Authorization": header}) as client:
            responses = [client.post("/api/v1/ping"), client.post("/api/v2/ping", json={})]
        for response in responses:
            assert response.status_code == 401, header
            assert response.json() == NOT_AUTHORISED


def test_no_credentials_is_401_on_both_routers(stack: Stack) -> None:
    with stack.client() as client:
        for path in ("/api/v1/ping", "/api/v2/ping", "/api/v1/topics", "/api/v2/topics/1"):
            response = client.post(path, json={"content": "long enough content"})
            assert response.status_code == 401, path
            assert response.json() == NOT_AUTHORISED


def test_jwt_in_query_or_body(stack: Stack, member: tuple[int, str]) -> None:
    uid, _ = member
    token = sign({"_uid": uid})
    with stack.client() as client:
        in_query = client.post("/api/v1/ping", params={"token": token})
        in_json = client.post("/api/v1/ping", json={"token": token})
        in_form = client.post("/api/v2/ping", data={"token": token})
        hs256_uid_string = client.post("/api/v1/ping", params={"token": sign({"_uid": str(uid)})})
    for response in (in_query, in_json, in_form, hs256_uid_string):
        assert response.status_code == 200, response.text
        assert response.json() == pong(uid)


def test_jwt_claims_are_the_parameters_when_the_body_is_empty(
    stack: Stack, member: tuple[int, str]
) -> None:
    uid, _ = member
    title = unique("From claims ")
    claims = {
        "_uid": uid,
        "title": title,
        "content": "Signed content, long enough",
        "cid": stack.cid,
    }
    with stack.client() as client:
        response = client.post("/api/v1/topics", params={"token": sign(claims)})
    assert response.status_code == 200, response.text
    topic = response.json()["payload"]["topicData"]
    assert topic["title"] == title and topic["uid"] == uid
    with stack.session() as session:
        row = session.scalar(select(Topic).where(Topic.title == title))
        assert row is not None and row.uid == uid


def test_jwt_body_wins_over_claims(stack: Stack, member: tuple[int, str]) -> None:
    uid, _ = member
    title, ignored = unique("Body "), unique("Claim ")
    token = sign({"_uid": uid, "title": ignored, "content": "x" * 20, "cid": stack.cid})
    body = {
        "token": token,
        "title": title,
        "content": "Body content, long enough",
        "cid": stack.cid,
    }
    with stack.client() as client:
        response = client.post("/api/v1/topics", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["payload"]["topicData"]["title"] == title


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(sign({"_uid": 1}, key="another-secret"), id="other-secret"),
        pytest.param(jwt.encode({"_uid": 1}, None, algorithm="none"), id="alg-none"),
        pytest.param(sign({"_uid": 1}, algorithm="HS512"), id="algorithm-not-configured"),
        pytest.param(sign({"_uid": 1, "exp": int(time.time()) - 60}), id="expired"),
        pytest.param(sign({"_uid": 1, "nbf": int(time.time()) + 3600}), id="not-yet-valid"),
        pytest.param("not.a.jwt", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_jwt_is_401(stack: Stack, token: str) -> None:
    with stack.client() as client:
        in_query = client.post("/api/v1/ping", params={"token": token})
        in_body = client.post("/api/v2/ping", json={"token": token})
    for response in (in_query, in_body):
        assert response.status_code == 401, response.text
        assert response.json() == NOT_AUTHORISED


def test_jwt_without_uid(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post("/api/v1/ping", params={"token": sign({"uid": 1, "x": 2})})
    assert response.status_code == 400
    assert response.json()["code"] == "params-missing"
    assert response.json()["params"] == ["_uid"]


def test_jwt_uid_of_nobody(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post("/api/v1/ping", params={"token": sign({"_uid": 987654321})})
    assert response.status_code == 400
    assert response.json()["params"] == ["_uid"]


def test_authorization_header_wins_over_jwt(stack: Stack, member: tuple[int, str]) -> None:
    uid, token = member
    good_jwt = sign({"_uid": stack.admin_uid})
    with stack.client(token) as client:
        assert client.post("/api/v1/ping", params={"token": good_jwt}).json() == pong(uid)
    with stack.client("00000000-0000-4000-8000-000000000000") as client:
        assert client.post("/api/v1/ping", params={"token": good_jwt}).status_code == 401

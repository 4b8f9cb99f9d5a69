"""Bad requests get a clear envelope with the right status; never a 500 or a trace,
never a half-applied write (plugin-write-api.md §3, forumq decisions 1 and 7)."""

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from forum.models import Category, Job, Post, User
from tests.support import Stack, unique, user_with_token

NOT_FOUND = {"code": "not-found", "message": "Invalid API call", "params": {}}
NO_TOPIC = {"code": "not-found", "message": "no-topic", "params": {}}
FORBIDDEN = "You are not authorised to make this call"
CONTENT = "Content that is long enough"


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "params"}, body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text
    return body


@pytest.fixture(scope="module")
def member(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


def _count(stack: Stack, model: type, *where: object) -> int:
    with stack.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]


def test_ping_exact_bodies(stack: Stack) -> None:
    with stack.client() as client:
        for router in ("v1", "v2"):
            response = client.get(f"/api/{router}/ping")
            assert response.status_code == 200
            assert response.json() == {"code": "ok", "message": "pong", "params": {}}
    with stack.client(stack.admin_token) as client:
        response = client.post("/api/v1/ping")
    assert response.json() == {
        "code": "ok",
        "message": f"pong, accepted test POST ping for uid {stack.admin_uid}",
        "params": {"uid": stack.admin_uid},
    }


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"title": "x",', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"\xff\xfe{}", "application/json"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b"title=T&content=C", "text/plain"),
        (b"<xml/>", "application/xml"),
        (b'{"title": "T"}', "multipart/form-data; boundary=x"),
    ],
)
def test_bodies_that_are_not_json_or_form(stack: Stack, content: bytes, content_type: str) -> None:
    with stack.client(stack.admin_token) as client:
        for router in ("v1", "v2"):
            response = client.post(
                f"/api/{router}/topics", content=content, headers={"Content-Type": content_type}
            )
            assert_envelope(response, 400, "bad-request")


def test_json_with_charset_and_no_content_type_are_json(stack: Stack) -> None:
    body = b'{"title": "' + unique().encode() + b'", "content": "' + CONTENT.encode() + b'", '
    body += f'"cid": {stack.cid}}}'.encode()
    with stack.client(stack.admin_token) as client:
        typed = client.post(
            "/api/v1/topics",
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        untyped = client.post("/api/v2/topics", content=body, headers={"Content-Type": ""})
    assert typed.status_code == 200, typed.text
    assert untyped.status_code == 200, untyped.text


def test_body_over_the_limit_is_413(stack: Stack) -> None:
    big = b'{"content": "' + b"x" * (1_048_576 + 10) + b'"}'

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    with stack.client(stack.admin_token) as client:
        jobs_before = _count(stack, Job)
        declared = client.post(
            "/api/v1/topics", content=big, headers={"Content-Type": "application/json"}
        )
        streamed = client.post(
            "/api/v2/topics", content=chunks(), headers={"Content-Type": "application/json"}
        )
    for response in (declared, streamed):
        body = assert_envelope(response, 413, "payload-too-large")
        assert body["params"] == {"limit": 1_048_576, "unit": "bytes"}
    assert _count(stack, Job) == jobs_before


def test_unknown_routes_and_methods_are_404(stack: Stack) -> None:
    with stack.client(stack.admin_token) as client:
        responses = [
            client.get("/api/v1/nothing-here"),
            client.post("/api/v2/nothing/here", json={}),
            client.get("/api/nothing"),
            client.get("/api/v1/topics"),  # only POST exists
            client.put("/api/v1/ping"),
            client.delete("/api/v1/categories"),
            client.patch(f"/api/v1/topics/{stack.cid}", json={}),
            client.get(f"/api/jobs/{uuid.uuid4().hex}", headers={"Prefer": "wait=0"}),
        ]
    for response in responses:
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.json() == NOT_FOUND


@pytest.mark.parametrize("tid", ["abc", "0", "-1", "1.5", "²", "99999999999999999999999"])
def test_non_numeric_path_ids_are_404(stack: Stack, tid: str) -> None:
    with stack.client(stack.admin_token) as client:
        response = client.post(f"/api/v1/topics/{tid}", json={"content": CONTENT})
    assert response.json() == NO_TOPIC and response.status_code == 404


def test_admin_routes_refuse_non_admins(stack: Stack, member: tuple[int, str]) -> None:
    uid, token = member
    name, username = unique("Category "), unique()
    with stack.client(token) as client:
        category = client.post("/api/v1/categories", json={"name": name})
        user = client.post("/api/v2/users", data={"username": username})
    with stack.client(stack.master_token) as client:
        as_member = client.post("/api/v1/users", json={"username": username, "_uid": uid})
    for response in (category, user, as_member):
        body = assert_envelope(response, 403, "forbidden")
        assert body["message"] in ("no-privileges", FORBIDDEN)
    assert _count(stack, Category, Category.name == name) == 0
    assert _count(stack, User, User.username == username) == 0


def test_admin_check_comes_before_parameters(stack: Stack, member: tuple[int, str]) -> None:
    # As the plugin's requireAdmin: a non-admin learns nothing about the parameters.
    _uid, token = member
    with stack.client(token) as client:
        for path in ("/api/v1/users", "/api/v1/categories", "/api/v2/groups"):
            assert_envelope(client.post(path, json={}), 403, "forbidden")


def test_nul_characters_are_refused_not_stuck(stack: Stack) -> None:
    # PostgreSQL cannot store U+0000: the API refuses it before a job exists.
    title = unique("NUL ")
    with stack.client(stack.admin_token) as client:
        response = client.post(
            "/api/v1/topics",
            json={"title": title, "content": "bad \x00 content here", "cid": stack.cid},
        )
        form = client.post(
            "/api/v1/topics", data={"title": title + "\x00", "content": CONTENT, "cid": stack.cid}
        )
    assert_envelope(response, 400, "bad-request")
    assert_envelope(form, 400, "bad-request")
    assert _count(stack, Job, Job.state.in_(("queued", "running"))) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"title": "T", "content": CONTENT, "cid": 2**63},
        {"title": "T", "content": CONTENT, "cid": 10**30},
        {"title": "T", "content": CONTENT, "cid": "1x"},
        {"title": "T", "content": CONTENT, "cid": [1]},
        {"title": ["T"], "content": CONTENT, "cid": 1},
        {"title": "T", "content": {"x": 1}, "cid": 1},
        {"title": "T", "content": CONTENT, "cid": 1, "timestamp": 2**60},
        {"title": "T", "content": "   ", "cid": 1},
    ],
)
def test_invalid_values_are_400(stack: Stack, body: dict[str, object]) -> None:
    posts_before = _count(stack, Post)
    with stack.client(stack.admin_token) as client:
        response = client.post("/api/v1/topics", json=body)
    assert_envelope(response, 400, "bad-request")
    assert _count(stack, Post) == posts_before


def test_values_wider_than_their_columns_are_400(stack: Stack) -> None:
    # PostgreSQL would refuse them in the worker; the API answers first.
    name = unique("Wide ")
    with stack.client(stack.admin_token) as client:
        for field, width in (("bgColor", 32), ("color", 32), ("icon", 64), ("class", 64)):
            response = client.post(
                "/api/v1/categories", json={"name": name, field: "a" * (width + 1)}
            )
            assert assert_envelope(response, 400, "bad-request")["params"] == [field]
    assert _count(stack, Category, Category.name == name) == 0


def test_deeply_nested_values_are_400(stack: Stack) -> None:
    # orjson parses 1024 levels but serialises only 254: the job could not be stored.
    nested = b"[" * 300 + b"]" * 300
    body = b'{"title": "T", "content": "' + CONTENT.encode() + b'", "cid": 1, "x": ' + nested
    with stack.client(stack.admin_token) as client:
        response = client.post(
            "/api/v1/topics", content=body + b"}", headers={"Content-Type": "application/json"}
        )
    assert assert_envelope(response, 400, "bad-request")["params"] == ["x"]


def test_job_ids_that_name_nothing(stack: Stack) -> None:
    with stack.client(stack.admin_token) as client:
        for job_id in ("%00", "x" * 300, "..", "%F0%9F%98%80"):
            response = client.get(f"/api/jobs/{job_id}")
            assert response.status_code == 404, (job_id, response.text)
            assert response.json() == NOT_FOUND


def test_missing_parameters_name_them(stack: Stack) -> None:
    with stack.client(stack.admin_token) as client:
        topic = client.post("/api/v1/topics", json={})
        reply = client.post(f"/api/v1/topics/{stack.cid}", data={})
        category = client.post("/api/v1/categories", json={"description": "no name"})
    assert assert_envelope(topic, 400, "params-missing")["params"] == ["cid", "title", "content"]
    assert assert_envelope(reply, 400, "params-missing")["params"] == ["content"]
    assert assert_envelope(category, 400, "params-missing")["params"] == ["name"]

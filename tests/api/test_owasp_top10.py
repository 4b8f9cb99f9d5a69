"""The OWASP API Security Top 10 (2023), as an attacker would try it over HTTP.

API1 object-level authorization: every route that takes an object of someone else's.
API2 authentication: forged, expired or unsigned JWTs, tokens, password guessing.
API3 property-level authorization: admin and server fields sent by a regular user.
API4 resource consumption: body, item and field sizes, the password lockout.
API5 function-level authorization: a regular user on every admin route of every router.
API8 misconfiguration: a weak JWT secret is refused, no stack trace is ever shown.
API9 inventory: every route served is in the OpenAPI document, nothing else answers.
(API6, API7 and API10 have no surface here: no business flow to automate beyond the
writes above, no server-side fetch of a caller's URL, no third-party API consumed.)"""

import os
import re
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from api.app import create_app
from api.openapi import walk
from api.routing import DocumentedRoute
from forum.db import transaction
from forum.groups import create_group
from forum.models import ApiToken, Group, Post, Topic, User
from forum.topics import create_topic
from forumq.settings import Settings
from tests.support import JWT_SECRET, Stack, user_with_token

REFUSED = {401, 403, 404}
PASSWORD = "victim-password"
CONTENT = "Content long enough to be accepted"


def served() -> list[tuple[str, DocumentedRoute]]:
    """Every documented route of every router, with its full path template."""
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    return [(path, item) for path, item in walk(list(app.routes))
            if isinstance(item, DocumentedRoute)]  # fmt: skip


@pytest.fixture(scope="module")
def victim(stack: Stack) -> dict[str, Any]:
    """A user with a password, a token, a topic with a reply, a group and a job."""
    uid, token = user_with_token(stack.database_url, password=PASSWORD)
    with transaction(stack.database_url) as session:
        made = create_topic(session, uid, stack.cid, "Victim's topic", CONTENT, tags=["mine"])
        topic = {"tid": made["topicData"]["tid"], "mainPid": made["postData"]["pid"]}
        group = create_group(session, None, f"victims-{uuid.uuid4().hex[:6]}", owner_uid=uid)
    with stack.client(token, Prefer="wait=10") as client:
        job = client.post(f"/api/v2/topics/{topic['tid']}", json={"content": CONTENT},
                          headers={"Prefer": "respond-async"}).json()["payload"]  # fmt: skip
        reply = client.get(f"/api/jobs/{job['job_id']}", headers={"Prefer": "wait=10"})
    return {"uid": uid, "token": token, "tid": topic["tid"], "pid": topic["mainPid"],
            "reply_pid": reply.json()["payload"]["result"]["payload"]["pid"],
            "slug": group["slug"], "job_id": job["job_id"]}  # fmt: skip


@pytest.fixture(scope="module")
def attacker(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


# -- API1: object-level authorization ---------------------------------------------------

# Routes where acting on another user's object is the point (following, voting, replying,
# writing to someone, joining a group): left out, with why.
SOCIAL = {
    ("POST", "/users/{}/follow"), ("PUT", "/users/{}/follow"), ("DELETE", "/users/{}/follow"),
    ("POST", "/users/{}/chats"), ("POST", "/topics/{}"), ("POST", "/topics/{}/follow"),
    ("PUT", "/topics/{}/follow"), ("DELETE", "/topics/{}/follow"), ("POST", "/posts/{}/vote"),
    ("DELETE", "/posts/{}/vote"), ("POST", "/posts/{}/bookmark"),
    ("DELETE", "/posts/{}/bookmark"), ("PUT", "/groups/{}/membership"),
    ("POST", "/groups/{}/membership"), ("PUT", "/posts/{}/vote"), ("PUT", "/posts/{}/bookmark"),
    ("DELETE", "/groups/{}/membership"), ("POST", "/users/{}/tokens"),
    # The caller's own marks on a topic (core's v3): ignoring it, marking it read or unread.
    ("PUT", "/topics/{}/ignore"), ("DELETE", "/topics/{}/ignore"), ("PUT", "/topics/{}/read"),
    ("DELETE", "/topics/{}/read"),
}  # fmt: skip
BODIES = {
    ("PUT", "/users/{}"): {"fullname": "pwned"},
    ("PUT", "/users/{}/password"): {"new": "pwned-password", "current": "wrong-guess"},
    ("PUT", "/posts/{}"): {"content": "pwned " + CONTENT},
    ("PUT", "/topics/{}"): {"content": "pwned " + CONTENT, "title": "pwned", "pid": "{pid}"},
    ("POST", "/topics/{}/tags"): {"tags": ["pwned"]},
    ("PUT", "/topics/{}/tags"): {"tags": ["pwned"]},
    ("PATCH", "/topics/{}/tags"): {"tags": ["pwned"]},
    ("PUT", "/topics/{}/move"): {"cid": "{cid}"},
    ("PUT", "/posts/{}/move"): {"tid": "{tid}"},
    ("PUT", "/posts/{}/owner"): {"uid": "{attacker}"},
    ("DELETE", "/topics/{}/thumbs"): {"path": "victim.png"},
    ("PUT", "/topics/{}/thumbs/order"): {"path": "victim.png", "order": 0},
}
# A main post cannot move at all: the move is tried on the victim's reply.
REPLY_ROUTES = {("PUT", "/posts/{}/move")}
OBJECT = {"{uid}": "uid", "{tid}": "tid", "{pid}": "pid", "{slug}": "slug",
          "{job_id}": "job_id", "{token}": "token"}  # fmt: skip


def enveloped(path: str, body: Any) -> bool:
    """The router's error envelope: core's ``{status: {code, message}, response}`` on v3,
    the plugin's ``{code, message, params}`` elsewhere."""
    if not isinstance(body, dict):
        return False
    if path.startswith("/api/v3/"):
        status = body.get("status")
        return set(body) == {"status", "response"} and isinstance(status, dict) and {
            "code", "message"} <= set(status)  # fmt: skip
    return {"code", "message", "params"} <= set(body)


def shape(path: str) -> str:
    """``/api/v2/users/{uid}/follow`` -> ``/users/{}/follow`` (any router)."""
    tail = path.split("/", 3)[3] if path.startswith("/api/v") else path.removeprefix("/api")
    for name in OBJECT:
        tail = tail.replace(name, "{}")
    return "/" + tail.lstrip("/")


def test_api1_no_route_acts_on_another_users_object(
    stack: Stack, victim: dict[str, Any], attacker: tuple[int, str]
) -> None:
    tried, answers = 0, []
    with stack.client(attacker[1], Prefer="wait=10") as client:
        for path, route in served():
            names = [name for name in OBJECT if name in path]
            # Admin routes are API5's; "optional" ones are public reads (a guest sees them).
            public = route.doc.auth in ("admin", "optional", "none")
            if not names or public or (route.method, shape(path)) in SOCIAL:
                continue
            url = path
            for name in names:
                field = OBJECT[name]
                if name == "{pid}" and (route.method, shape(path)) in REPLY_ROUTES:
                    field = "reply_pid"
                url = url.replace(name, str(victim[field]))
            url = re.sub(r"\{\w+\}", "1", url)  # other parameters (a diff's timestamp)
            named = {"{pid}": victim["pid"], "{cid}": stack.cid, "{tid}": victim["tid"],
                     "{attacker}": attacker[0]}  # fmt: skip
            body = {
                key: named.get(value, value) if isinstance(value, str) else value
                for key, value in BODIES.get((route.method, shape(path)), {}).items()
            }
            answer = client.request(route.method, url, json=body)
            answers.append((route.method, path, answer.status_code, answer.text[:200]))
            if not enveloped(path, answer.json()):
                answers.append((route.method, path, 0, "not the router's envelope"))
            tried += 1
    # NodeBB refuses acting on another user's invitation with 400 [[error:not-allowed]].
    wrong = [a for a in answers if a[2] not in REFUSED and "[[error:not-allowed]]" not in a[3]]
    core = sum(1 for _, path, *_ in answers if path.startswith("/api/v3/"))
    assert wrong == [] and tried >= 30 and core >= 10, "\n".join(map(str, [tried, core, *wrong]))
    with stack.session() as session:
        topic = session.get(Topic, victim["tid"])
        post = session.get(Post, victim["pid"])
        user = session.get(User, victim["uid"])
        assert topic is not None and not topic.deleted and post is not None
        assert "pwned" not in post.content and user is not None and user.profile.get(
            "fullname") != "pwned"  # fmt: skip
        assert session.scalar(select(Group).where(Group.slug == victim["slug"])) is not None
        assert session.scalar(select(ApiToken).where(ApiToken.uid == victim["uid"]))
    with stack.client() as client:  # the victim's password still works
        again = client.post(f"/api/v1/users/{victim['uid']}/tokens", json={"password": PASSWORD})
    assert again.status_code == 200, again.text


# -- API2: authentication ------------------------------------------------------------------


def forged(claims: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize("case", ["alg-none", "wrong-secret", "known-secret", "expired",
                                  "not-yet-valid", "no-uid"])  # fmt: skip
def test_api2_forged_jwts_are_refused(stack: Stack, case: str) -> None:
    admin = stack.admin_uid
    now = int(time.time())
    token = {
        "alg-none": jwt.encode({"_uid": admin}, None, algorithm="none"),
        "wrong-secret": forged({"_uid": admin}, JWT_SECRET + "x"),
        "known-secret": forged({"_uid": admin}, "change-me" * 4),
        "expired": forged({"_uid": admin, "exp": now - 60}, JWT_SECRET),
        "not-yet-valid": forged({"_uid": admin, "nbf": now + 3600}, JWT_SECRET),
        "no-uid": forged({"sub": str(admin)}, JWT_SECRET),
    }[case]
    with stack.client() as client:
        answer = client.post("/api/v2/categories", params={"token": token},
                             json={"name": f"forged {case}"})  # fmt: skip
    assert answer.status_code in (400, 401), answer.text
    assert answer.json()["code"] in ("not-authorised", "params-missing")


def test_api2_tokens_must_be_real_and_a_master_token_must_name_a_user(stack: Stack) -> None:
    with stack.client() as client:
        made_up = client.post("/api/v2/ping", headers={"Authorization": f"Bearer {uuid.uuid4()}"})
        bare = client.post(
            "/api/v2/ping", headers={"Authorization": f"Bearer {stack.master_token}"}
        )
    assert made_up.status_code == 401 and bare.status_code == 400
    assert bare.json()["params"] == ["_uid"]


# -- API3: property-level authorization (mass assignment) ------------------------------


def test_api3_admin_and_server_fields_from_a_user_are_ignored_or_refused(
    stack: Stack, attacker: tuple[int, str]
) -> None:
    uid, token = attacker
    extra = {
        "uid": stack.admin_uid,
        "_uid": stack.admin_uid,
        "pinned": True,
        "locked": True,
        "deleted": True,
        "viewcount": 9999,
        "postcount": 99,
        "mainPid": 1,
        "slug": "x",
    }
    with stack.client(token, Prefer="wait=10") as client:
        made = client.post("/api/v2/topics", json={"cid": stack.cid, "title": "Mass assignment",
                                                   "content": CONTENT, **extra})  # fmt: skip
        profile = client.put(
            f"/api/v2/users/{uid}",
            json={"reputation": 9999, "banned": True, "groups": ["administrators"]},
        )
    assert made.status_code == 200, made.text
    assert profile.status_code == 400, profile.text
    with stack.session() as session:
        topic = session.get(Topic, made.json()["payload"]["topicData"]["tid"])
        assert topic is not None and topic.uid == uid
        assert (topic.pinned, topic.locked, topic.deleted, topic.viewcount) == (False,) * 3 + (0,)
        user = session.get(User, uid)
        assert user is not None and user.reputation == 0 and not user.banned
    with stack.client(token) as client:
        pong = client.post("/api/v2/ping")
    assert pong.json()["params"]["uid"] == uid  # and not an admin for it


# -- API4: unrestricted resource consumption ----------------------------------------------


def test_api4_sizes_are_bounded(stack: Stack, attacker: tuple[int, str]) -> None:
    _, token = attacker
    with stack.client(token, Prefer="wait=10") as client:
        body = client.post("/api/v2/topics", content=b'{"content": "' + b"x" * 1_100_000 + b'"}',
                           headers={"Content-Type": "application/json"})  # fmt: skip
        title = client.post("/api/v2/topics", json={"cid": stack.cid, "title": "t" * 300,
                                                    "content": CONTENT})  # fmt: skip
        nested: Any = "x"
        for _ in range(40):
            nested = [nested]
        deep = client.post("/api/v2/topics", json={"cid": stack.cid, "title": "deep",
                                                   "content": CONTENT, "tags": nested})  # fmt: skip
    assert body.status_code == 413 and body.json()["params"] == {"limit": 1_048_576,
                                                                 "unit": "bytes"}  # fmt: skip
    assert title.status_code == 400 and title.json()["message"] == "title-too-long"
    assert deep.status_code == 400
    with stack.client(stack.admin_token) as client:
        items = client.post("/api/v2/bulk", json=[{"type": "user"}] * 10_001)
    assert items.status_code == 413
    assert items.json()["params"] == {"limit": 10_000, "unit": "items"}


def test_api4_password_guessing_is_locked_out(stack: Stack) -> None:
    uid, _ = user_with_token(stack.database_url, password=PASSWORD)
    n = uuid.uuid4().int
    elsewhere = {"X-Forwarded-For": f"172.16.{n % 250}.{n // 250 % 250 + 1}"}
    with stack.client(**elsewhere) as client:
        guesses = [client.post(f"/api/v2/users/{uid}/tokens", json={"password": f"guess{i}"})
                   for i in range(6)]  # fmt: skip
    assert [g.status_code for g in guesses] == [401] * 5 + [429]
    assert int(guesses[-1].headers["Retry-After"]) > 0


# -- API5: function-level authorization ---------------------------------------------------


def test_api5_a_regular_user_gets_403_on_every_admin_route(
    stack: Stack, attacker: tuple[int, str]
) -> None:
    admin_routes = [(path, route) for path, route in served() if route.doc.auth == "admin"]
    answers = []
    with stack.client(attacker[1], Prefer="wait=10") as client:
        for path, route in admin_routes:
            url = path
            named = {"{uid}": stack.admin_uid, "{cid}": stack.cid, "{slug}": "administrators",
                     "{roomId}": 1}  # fmt: skip
            for name, value in named.items():
                url = url.replace(name, str(value))
            answer = client.request(route.method, url, json={"name": "x", "new": "y" * 8})
            status = answer.status_code if enveloped(path, answer.json()) else 0
            answers.append((route.method, path, status))
    assert len(admin_routes) >= 20
    assert sum(1 for path, _ in admin_routes if path.startswith("/api/v3/")) >= 10
    assert [a for a in answers if a[2] != 403] == []


# -- API8: security misconfiguration ---------------------------------------------------------


def test_api8_a_weak_jwt_secret_stops_the_server(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUMQ_")}
    env.update(FORUMQ_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none",
               FORUMQ_JWT_SECRET="secret")  # fmt: skip
    refused = subprocess.run([sys.executable, "-m", "forumq", "serve"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 1 and "FORUMQ_JWT_SECRET" in refused.stderr


@pytest.mark.parametrize(
    ("method", "path", "content", "content_type"),
    [
        ("POST", "/api/v2/topics", b"{not json", "application/json"),
        ("POST", "/api/v2/topics", b"\xff\xfe\x00garbage", "application/json"),
        ("POST", "/api/v2/topics", b"a=%ZZ&b", "application/x-www-form-urlencoded"),
        ("POST", "/api/v2/topics", b"<xml/>", "application/xml"),
        ("POST", "/api/v2/bulk", b"[" * 5000, "application/json"),
        ("PUT", "/api/v2/users/99999999999999999999999", b"{}", "application/json"),
        ("GET", "/api/jobs/..%2f..%2fetc%2fpasswd", b"", "application/json"),
        ("POST", "/api/v2/util/upload", b"--x\r\n", "multipart/form-data; boundary=x"),
    ],
)  # fmt: skip
def test_api8_no_stack_trace_ever(
    stack: Stack, method: str, path: str, content: bytes, content_type: str
) -> None:
    with stack.client(stack.admin_token) as client:
        answer = client.request(method, path, content=content,
                                headers={"Content-Type": content_type})  # fmt: skip
    assert 400 <= answer.status_code < 500, answer.text
    for leak in ("Traceback", 'File "', "Error:", "sqlalchemy", "psycopg"):
        assert leak not in answer.text


# -- API9: improper inventory management -----------------------------------------------------


def test_api9_every_route_served_is_documented_and_nothing_else_answers(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url) as client:
        document = client.get("/api/openapi.json").json()
        strays = [
            client.get(path).status_code
            for path in (
                "/api/v3/users",
                "/api/v1/admin",
                "/docs",
                "/debug",
                "/api",
                "/api/x",
                "/.env",
            )
        ]
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    for path, route in walk(list(app.routes)):
        methods = [route.method] if isinstance(route, DocumentedRoute) else route.methods or []
        template = path.replace(":path", "")
        for method in set(methods) - {"HEAD"}:
            assert method.lower() in document["paths"].get(template, {}), (method, path)
    assert strays == [404] * len(strays)

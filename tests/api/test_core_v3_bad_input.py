"""Bad input on every served v3 write route: core's envelope and a 4xx, never a 500,
and no row written. Each route with a body gets each of its fields with a value of the
wrong type, a body that is not JSON, and a body nested too deep; as an admin, so no
privilege check answers first."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.openapi import walk
from api.routing import DocumentedRoute
from forum.models import (
    ApiToken,
    Category,
    CategoryWatch,
    ChatMessage,
    ChatRoom,
    ChatRoomMember,
    Flag,
    FlagNote,
    FlagReport,
    Group,
    GroupInvite,
    GroupRequest,
    Post,
    Topic,
    TopicEvent,
    TopicThumb,
    User,
)
from forumq.settings import Settings
from tests.nodebb_spec import check_answer
from tests.support import Stack, unique

TABLES = (ApiToken, Category, CategoryWatch, ChatMessage, ChatRoom, ChatRoomMember, Flag, FlagNote,
          FlagReport, Group, GroupInvite, GroupRequest, Post, Topic, TopicEvent, TopicThumb,
          User)  # fmt: skip
WRONG: dict[str, Any] = {"str": {"an": "object"}, "int": "not a number", "other": [[["deep"]]]}


def core_routes() -> list[DocumentedRoute]:
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    return [
        item
        for path, item in walk(list(app.routes))
        if path.startswith("/api/v3/") and isinstance(item, DocumentedRoute) and item.doc.queued
    ]


def wrong_bodies(route: DocumentedRoute) -> list[dict[str, Any]]:
    model = route.doc.body
    if model is None:
        return []
    bodies = []
    for name, field in model.model_fields.items():
        if name == "kind" or name in route.doc.server_fields:
            continue
        kind = "str" if field.annotation is str else "int" if field.annotation is int else "other"
        bodies.append({field.alias or name: WRONG[kind]})
    return bodies


@pytest.fixture(scope="module")
def objects(stack: Stack) -> dict[str, str]:
    """Path parameters naming objects that exist."""
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    with httpx.Client(base_url=stack.base_url + "/api/v3", headers=headers, timeout=30) as c:
        body = {"cid": stack.cid, "title": "Bad input", "content": "Content long enough"}
        topic = c.post("/topics", json=body).json()["response"]
        group = c.post("/groups", json={"name": unique("Bad ")}).json()["response"]
    return {"tid": str(topic["tid"]), "pid": str(topic["mainPid"]), "cid": str(stack.cid),
            "uid": str(stack.admin_uid), "slug": group["slug"], "privilege": "find",
            "token": "0" * 64, "member": "registered-users", "uuid": "x",
            "roomId": "987654321", "mid": "987654321",
            "flagId": "987654321", "eventId": "987654321", "datetime": "1",
            "setting": "minimumPostLength", "since": "0", "timestamp": "1"}  # fmt: skip


def rows(stack: Stack) -> list[int]:
    with stack.session() as session:
        return [int(session.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES]


@pytest.mark.parametrize("route", core_routes(), ids=lambda r: f"{r.method} {r.path}")
def test_bad_input_is_refused_in_cores_envelope(
    stack: Stack, objects: dict[str, str], route: DocumentedRoute
) -> None:
    path = "/api/v3" + route.path.format(**objects)
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    before = rows(stack)
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=30) as client:
        answers = [client.request(route.method, path, json=body) for body in wrong_bodies(route)]
        answers.append(client.request(route.method, path, content=b'{"broken": ',
                                      headers={"Content-Type": "application/json"}))  # fmt: skip
        answers.append(client.request(route.method, path, content=b"[" * 100 + b"]" * 100,
                                      headers={"Content-Type": "application/json"}))  # fmt: skip
    for answer in answers:
        assert answer.status_code == 400, (answer.request.content[:80], answer.text)
        body = check_answer(answer)
        assert body["status"]["code"] == "bad-request", body
    assert rows(stack) == before

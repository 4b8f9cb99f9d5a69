"""Maintenance mode (``/api/v2/util/maintenance``, admins, through the queue): while it
is on, non-admin writes answer 503 in the envelope on every router; admins and reads pass."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.maintenance import TTL_SECONDS
from forum import settings_store
from forum.db import transaction
from forum.migrate import upgrade
from forum.models import ForumSetting, Job
from forum.users import create_user
from tests.support import Stack, unique, user_with_token

CONTENT = "Content that is long enough"
UNAVAILABLE = {"code": "service-unavailable", "message": "maintenance-mode", "params": {}}


def stored_mode(stack: Stack) -> str | None:
    with stack.session() as session:
        return session.scalar(
            select(ForumSetting.value).where(ForumSetting.key == settings_store.MAINTENANCE_MODE)
        )


@pytest.fixture(scope="module")
def member(stack: Stack) -> tuple[int, str]:
    return user_with_token(stack.database_url)


@pytest.fixture
def maintenance_off(stack: Stack) -> Iterator[None]:
    """Whatever a test does, the shared stack leaves it with maintenance mode off."""
    yield
    with stack.client(stack.admin_token) as client:
        assert client.delete("/api/v2/util/maintenance").status_code == 200


def new_topic(
    client: httpx.Client, stack: Stack, version: str = "v1", **params: object
) -> httpx.Response:
    body = {"cid": stack.cid, "title": unique("t"), "content": CONTENT, **params}
    return client.post(f"/api/{version}/topics", json=body)


def test_only_admins_switch_it(stack: Stack, member: tuple[int, str]) -> None:
    before = stored_mode(stack)
    with stack.client(member[1]) as client:
        refused = client.post("/api/v2/util/maintenance")
    with stack.client() as anonymous:
        nobody = anonymous.post("/api/v2/util/maintenance")
    with stack.client(stack.master_token) as master:
        as_member = master.delete("/api/v2/util/maintenance", params={"_uid": member[0]})
    assert refused.status_code == 403
    assert refused.json() == {"code": "forbidden", "message": "no-privileges", "params": {}}
    assert nobody.status_code == 401 and nobody.json()["code"] == "not-authorised"
    assert as_member.status_code == 403
    assert stored_mode(stack) == before


def test_no_maintenance_route_on_v1(stack: Stack) -> None:
    with stack.client(stack.admin_token) as client:
        response = client.post("/api/v1/util/maintenance")
    assert response.status_code == 404 and response.json()["code"] == "not-found"


def test_non_admin_writes_answer_503_while_on(
    stack: Stack, member: tuple[int, str], maintenance_off: None
) -> None:
    uid, token = member
    with stack.client(stack.admin_token) as admin:
        switched = admin.post("/api/v2/util/maintenance")
        assert switched.status_code == 200, switched.text
        assert switched.json() == {"code": "ok", "payload": {}}
        assert stored_mode(stack) == "1"
        for version in ("v1", "v2"):
            with stack.client(token) as client:
                refused = new_topic(client, stack, version)
            assert refused.status_code == 503, refused.text
            assert refused.json() == UNAVAILABLE
            assert int(refused.headers["retry-after"]) > 0
        with stack.client(stack.master_token) as master:
            as_member = master.post(
                "/api/v2/topics",
                params={"_uid": uid},
                json={"cid": stack.cid, "title": "x", "content": CONTENT},
            )
            as_admin = new_topic(master, stack, "v2", _uid=stack.admin_uid)
        assert as_member.status_code == 503 and as_member.json() == UNAVAILABLE
        assert as_admin.status_code == 200, as_admin.text
        assert new_topic(admin, stack).status_code == 200
        with stack.session() as session:  # the refused writes never became jobs
            mine = session.scalars(select(Job).where(Job.actor_uid == uid)).all()
            assert all(job.kind != "topics.create" for job in mine)
        with stack.client(token) as client:
            upload = client.post("/api/v1/util/upload", files={"files": ("a.txt", b"data")})
            reads = client.get(f"/api/v1/users/{uid}/tokens")
            switch_off = client.delete("/api/v2/util/maintenance")
        assert upload.status_code == 503 and upload.json() == UNAVAILABLE
        assert reads.status_code == 200, reads.text
        assert switch_off.status_code == 503
        assert stored_mode(stack) == "1"

        off = admin.delete("/api/v2/util/maintenance")
        assert off.status_code == 200 and off.json() == {"code": "ok", "payload": {}}
        assert stored_mode(stack) == "0"
    with stack.client(token) as client:
        assert new_topic(client, stack).status_code == 200


def test_switching_asynchronously_reaches_the_api_within_a_second(
    stack: Stack, member: tuple[int, str], maintenance_off: None
) -> None:
    # An empty topic is a write refused either way, and stores nothing: 400 past the
    # maintenance check, 503 at it.
    with stack.client(member[1]) as client:
        assert client.post("/api/v1/topics", json={}).status_code == 400  # read: off
    with stack.client(stack.admin_token, Prefer="respond-async") as admin:
        accepted = admin.post("/api/v2/util/maintenance")
    assert accepted.status_code == 202, accepted.text
    job_url = accepted.headers["location"]
    with stack.client(stack.admin_token, Prefer="wait=10") as admin:
        job = admin.get(job_url).json()["payload"]
    assert job["state"] == "succeeded" and job["kind"] == "util.maintenance"
    switched = time.monotonic()  # the flag is stored by now
    # The API read "off" just before: a write sent a second after the switch meets it.
    assert TTL_SECONDS == 1.0
    with stack.client(member[1]) as client:
        while True:
            sent = time.monotonic()
            status = client.post("/api/v1/topics", json={}).status_code
            if status == 503:
                break
            assert status == 400
            assert sent - switched < TTL_SECONDS, "a write a second after the switch passed"
            time.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_settings_store_upserts(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'forum.sqlite3'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("pg_url")
    key = unique("setting")
    with transaction(url) as session:
        assert settings_store.get(session, key) is None
        assert settings_store.get(session, key, "fallback") == "fallback"
        settings_store.put(session, key, "a")
        settings_store.put(session, key, "b")
    with transaction(url) as session:
        assert settings_store.get(session, key) == "b"
        admin = create_user(session, None, unique(), admin=True).uid
        member = create_user(session, None, unique()).uid
        settings_store.set_maintenance_mode(session, admin, True)
        assert settings_store.maintenance_mode(session)
        with pytest.raises(Exception, match="no-privileges"):
            settings_store.set_maintenance_mode(session, member, False)
        settings_store.set_maintenance_mode(session, None, False)  # the operator
        assert not settings_store.maintenance_mode(session)

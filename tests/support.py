"""What the tests share: the running stack they talk to, the rows they start from
(users, tokens, categories, topics, jobs) and the checks of an answer's envelope.

Rows are made through the forum functions, the operator's path (like the CLI); HTTP
helpers act as users of a running stack. Fixtures are in ``conftest.py``.
"""

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from devstack import databases, servers
from forum import tokens
from forum.categories import create_category
from forum.db import engine_for, transaction
from forum.models import TopicTag
from forum.users import create_user

CONTENT = "Some content that is long enough"
# The API contract (route tables, NodeBB's OpenAPI documents), beside the checkout.
SPEC_DIR = Path(os.environ.get("FORUMQ_SPEC_DIR", servers.CHECKOUT.parent / "shared" / "spec"))
# The stacks' JWT secret: long enough for a server database (forumq serve refuses less).
JWT_SECRET = "forumq-test-jwt-secret-0123456789abcdef"

# --- servers ------------------------------------------------------------------------


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, what: str, missing: str = "is not reachable") -> None:
    """A missing server (or program) fails the run in CI and skips the test elsewhere."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} {missing}, and CI must not skip it")
    pytest.skip(f"{what} {missing}")


def require_postgres() -> None:
    require(servers.port_open("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")


@dataclass
class Stack:
    """A running forumq: its base URL, database and the ids the seed created."""

    base_url: str
    database_url: str
    env: dict[str, str]
    admin_uid: int
    master_token: str
    admin_token: str
    cid: int
    log_dir: Path  # api.log and worker.log

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def session(self) -> Session:
        return sessionmaker(engine_for(self.database_url))()


def start_stack(tmp: Path, env: dict[str, str], database_url: str) -> Iterator[Stack]:
    """Seed ``database_url``, run a worker and the API on ``env``; yield, then stop both."""
    seed = databases.seed(database_url)
    with (
        servers.running_worker(env, tmp / "worker.log"),
        servers.running_api(env, tmp / "api.log") as base_url,
    ):
        yield Stack(base_url, database_url, env, seed.admin_uid, seed.master_token,
                    seed.admin_token, seed.cid, tmp)  # fmt: skip


# --- rows -----------------------------------------------------------------------------


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def new_user(database_url: str, *, admin: bool = False, password: str | None = None) -> int:
    with transaction(database_url) as session:
        return create_user(session, None, unique(), password=password, admin=admin).uid


def user_with_token(
    database_url: str, *, admin: bool = False, password: str | None = None
) -> tuple[int, str]:
    """A new user and a token of theirs: ``(uid, secret)``."""
    with transaction(database_url) as session:
        uid = create_user(session, None, unique(), password=password, admin=admin).uid
        return uid, tokens.issue_user_token(session, uid)


def new_category(database_url: str, name: str = "Category") -> int:
    with transaction(database_url) as session:
        return create_category(session, None, name).cid


def new_topic(database_url: str, uid: int, cid: int) -> int:
    from forum.topics import create_topic

    with transaction(database_url) as session:
        created = create_topic(session, uid, cid, unique("Topic "), CONTENT)
        return int(created["topicData"]["tid"])


def reply_job(tid: int, uid: int, content: str, key: str | None = None) -> dict[str, Any]:
    """A queued reply job's row, as the API stores it."""
    from forum.jobqueue import store as jobs
    from schemas import dump_command
    from schemas.topics import ReplyTopic

    command = ReplyTopic(tid=tid, content=content)
    now = int(time.time() * 1000)
    return {
        "id": uuid.uuid4().hex,
        "kind": command.kind,
        "router": "v1",
        "actor_uid": uid,
        "command": dump_command(command),
        "state": jobs.QUEUED,
        "idempotency_key": key,
        "request_hash": None,
        "created_at": now,
        "enqueued_at": now,
        "ordering_key": command.ordering_key(),
        "attempts": 0,
    }


def commit_once_blocked(first: Session, database_url: str) -> None:
    """Commit ``first`` once another PostgreSQL backend waits for a lock it holds.

    If none comes to wait (or the wait cannot be watched), ``first`` is rolled back before
    the error goes on: the waiting write then ends, and the test fails instead of hanging
    on a thread that waits for ``first``."""
    holder = first.scalar(text("SELECT pg_backend_pid()"))
    try:
        with psycopg.connect(databases.pg_dsn(database_url), autocommit=True) as conn:
            for _ in range(300):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [holder],
                ).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the second write never waited for the first")
    except BaseException:
        first.rollback()
        raise
    first.commit()


# --- answers --------------------------------------------------------------------------


def ok(response: httpx.Response) -> dict:
    """The payload of a 200 ``ok`` envelope."""
    assert response.status_code == 200, response.text
    assert response.json()["code"] == "ok"
    return response.json()["payload"]


def error(response: httpx.Response, status: int, code: str, message: str | None = None) -> None:
    """The answer is the error envelope ``status`` / ``code`` (/ ``message``)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    if message is not None:
        assert body["message"] == message, body


def refusal(answer: httpx.Response) -> tuple[int, str, str]:
    """An error answer as ``(status, code, message)``."""
    body = answer.json()
    return answer.status_code, body["code"], body["message"]


class Forum:
    """Acting as various users of a running stack, over HTTP."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def master(self, uid: int | None = None) -> httpx.Client:
        """The master token, acting as ``uid`` (``_uid`` in the query) when given."""
        params = {"_uid": str(uid)} if uid is not None else {}
        return httpx.Client(
            base_url=self.stack.base_url,
            headers={"Authorization": f"Bearer {self.stack.master_token}"},
            params=params,
            timeout=30,
        )

    def admin(self) -> httpx.Client:
        return self.stack.client(self.stack.admin_token)

    def user(self) -> int:
        with self.master(self.stack.admin_uid) as client:
            answer = client.post("/api/v1/users", json={"username": unique()})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["payload"]["uid"])

    def token(self, uid: int) -> httpx.Client:
        """A client holding ``uid``'s own bearer token."""
        with self.master(uid) as client:
            answer = client.post(f"/api/v1/users/{uid}/tokens")
        assert answer.status_code == 200, answer.text
        return self.stack.client(answer.json()["payload"]["token"])

    def topic(self, uid: int, cid: int | None = None, **extra: Any) -> tuple[int, int]:
        body = {"cid": cid or self.stack.cid, "title": unique("T "), "content": CONTENT,
                **extra}  # fmt: skip
        with self.master(uid) as client:
            answer = client.post("/api/v1/topics", json=body)
        assert answer.status_code == 200, answer.text
        payload = answer.json()["payload"]
        return payload["topicData"]["tid"], payload["postData"]["pid"]

    def reply(self, uid: int, tid: int, **extra: Any) -> int:
        with self.master(uid) as client:
            answer = client.post(f"/api/v1/topics/{tid}", json={"content": CONTENT, **extra})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["payload"]["pid"])

    def category(self, **extra: Any) -> int:
        with self.admin() as client:
            answer = client.post("/api/v1/categories", json={"name": unique("C "), **extra})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["payload"]["cid"])

    def row(self, model: Any, key: Any) -> Any:
        with self.stack.session() as session:
            return session.get(model, key)

    def count(self, *where: Any) -> int:
        with self.stack.session() as session:
            return int(session.scalar(select(func.count()).where(*where)) or 0)

    def tags(self, tid: int) -> list[str]:
        with self.stack.session() as session:
            return sorted(session.scalars(select(TopicTag.tag).where(TopicTag.tid == tid)))

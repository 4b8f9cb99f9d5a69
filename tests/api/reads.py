"""What the read-API tests share: users, categories and topics written straight to the
database, and GETs whose answers are checked against NodeBB's OpenAPI documents."""

import uuid

import httpx

from forum import tokens
from forum.db import transaction
from forum.topics import create_topic, reply
from forum.users import create_user
from tests import support
from tests.api.nodebb_schemas import check
from tests.support import Stack

CONTENT = "Some **content** that is long enough"


def new_user(stack: Stack, *, admin: bool = False) -> tuple[int, str, str]:
    """A user, a token of theirs, and their userslug."""
    with transaction(stack.database_url) as session:
        user = create_user(session, None, f"Reader {uuid.uuid4().hex[:8]}", admin=admin)
        return user.uid, tokens.issue_user_token(session, user.uid), user.userslug


def new_category(stack: Stack, name: str = "Reading room") -> int:
    return support.new_category(stack.database_url, name)


def new_topic(stack: Stack, uid: int, cid: int, replies: int = 0, **kwargs: object) -> int:
    """A topic written straight to the database (the reads under test do not care how)."""
    with transaction(stack.database_url) as session:
        created = create_topic(session, uid, cid, kwargs.pop("title", "A topic title"), CONTENT,
                               **kwargs)  # type: ignore[arg-type]  # fmt: skip
        tid = int(created["topicData"]["tid"])  # type: ignore[index]
        for n in range(replies):
            reply(session, uid, tid, f"Reply number {n}, long enough", timestamp=None)
    return tid


def get(stack: Stack, path: str, bearer: str | None = None, **params: object) -> httpx.Response:
    with stack.client(bearer) as client:
        return client.get(path, params=params)


def ok(response: httpx.Response, path: str | None = None) -> dict:
    assert response.status_code == 200, response.text
    return check(response, path)


def refused(response: httpx.Response, status: int, path: str | None = None) -> dict:
    assert response.status_code == status, response.text
    return check(response, path)

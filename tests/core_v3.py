"""A client of one stack's core Write API v3 (``/api/v3``) for the tests: each answer is
checked against core's ``write.yaml`` (tests/nodebb_spec.py)."""

from typing import Any

import httpx
from sqlalchemy import func, select

from forum.models import User
from tests.nodebb_spec import check_answer
from tests.support import Stack, unique

CONTENT = "Some content that is long enough"


class Core:
    """Clients of one stack's /api/v3, each answer checked against write.yaml."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def client(self, token: str, **headers: str) -> httpx.Client:
        headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(
            base_url=self.stack.base_url + "/api/v3",
            headers=headers,
            timeout=30,
            event_hooks={"response": [lambda answer: answer.read() and None]},
        )

    def call(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client(token) as client:
            answer = client.request(method, path, **kwargs)
        check_answer(answer)
        return answer

    def ok(self, token: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(token, method, path, **kwargs)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == {"code": "ok", "message": "OK"}, body
        return body["response"]

    def refused(self, token: str, method: str, path: str, status: int, **kwargs: Any) -> str:
        """The answer's status and core error code for ``status``; its message."""
        answer = self.call(token, method, path, **kwargs)
        assert answer.status_code == status, answer.text
        body = answer.json()
        code = {400: "bad-request", 401: "not-authorised", 403: "forbidden", 404: "not-found"}
        assert body["status"]["code"] == code[status], body
        assert "Traceback" not in answer.text
        return str(body["status"]["message"])

    def topic(self, token: str, **extra: Any) -> dict[str, Any]:
        body = {"cid": self.stack.cid, "title": unique("T "), "content": CONTENT, **extra}
        return self.ok(token, "POST", "/topics", json=body)

    def count(self, *where: Any) -> int:
        with self.stack.session() as session:
            return int(session.scalar(select(func.count()).where(*where)) or 0)

    def row(self, model: Any, key: Any) -> Any:
        with self.stack.session() as session:
            return session.get(model, key)

    def rows(self, model: Any, *where: Any) -> list[Any]:
        with self.stack.session() as session:
            return list(session.scalars(select(model).where(*where)))

    def row_where(self, model: Any, *where: Any) -> Any:
        found = self.rows(model, *where)
        assert len(found) == 1, found
        return found[0]

    def username(self, uid: int) -> str:
        with self.stack.session() as session:
            return str(session.scalar(select(User.username).where(User.uid == uid)))

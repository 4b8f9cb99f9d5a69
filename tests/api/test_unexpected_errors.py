"""A bug in a route answers the router's 500 envelope, and the connection stays usable."""

from pathlib import Path

from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from api.app import create_app
from forumq.settings import Settings


async def broken(_request: Request) -> None:
    raise RuntimeError("a bug")


def test_a_bug_is_a_500_envelope_not_a_dropped_connection(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    app.router.routes.insert(0, Route("/api/v2/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.get("/api/v2/broken")
        after = client.get("/api/v1/ping")
        bare = client.get("/api/v1")
    assert first.status_code == 500
    assert first.json()["code"] == "internal-server-error"
    assert "a bug" not in first.text  # no stack trace or detail leaks
    assert after.status_code == 200
    assert bare.status_code == 404 and bare.json()["code"] == "not-found"

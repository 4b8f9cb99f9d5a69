"""Every route of the plugin's route tables (plugin-write-api.md §5, §6) is served,
and every router answers unknown paths 404 in its own envelope."""

import re

import pytest
from starlette.routing import Mount
from starlette.testclient import TestClient

from api.app import create_app
from api.openapi import walk
from api.routing import DocumentedRoute
from forumq.settings import Settings
from tests.support import SPEC_DIR

SPEC = SPEC_DIR
METHODS = "GET|POST|PUT|DELETE|PATCH"
# §5: | 21 | POST | `/api/v1/topics` | ...
V1_ROW = re.compile(rf"^\|\s*\d+\s*\|\s*({METHODS})\s*\|\s*`(/api/v1/[^`]*)`", re.M)
# §6 tables: | **PUT** | `/api/v2/...` |, | ★ POST | ... |;
# the deprecated rows (a dash in the first cell) do not match.
V2_ROW = re.compile(rf"^\|\s*[*★\s]*({METHODS})[*\s]*\|\s*`(/api/v2/[^`]*)`", re.M)
# §6.1: - `PUT /users/:uid/follow`
V2_USER_ITEM = re.compile(rf"^-\s*`({METHODS})\s+(/users[^`]*)`", re.M)
PARAM = re.compile(r":(\w+)")
TEMPLATE = re.compile(r"\{[^}]*\}")

Route_ = tuple[str, str]


def sections(text: str) -> dict[str, str]:
    """``{"5.1": body, ...}``: the text under each numbered ### heading."""
    found: dict[str, str] = {}
    parts = re.split(r"^### (\d+\.\d+)\b.*$", text, flags=re.M)
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        found[number] = body
    return found


def normalise(path: str) -> str:
    """``/users/:uid`` -> ``/users/{uid}``."""
    return PARAM.sub(r"{\1}", path)


def spec_routes() -> tuple[list[Route_], list[Route_]]:
    """The (method, path) pairs of the v1 and v2 route tables."""
    document = SPEC / "plugin-write-api.md"
    assert document.is_file(), f"the spec is expected at {document} (beside the checkout)"
    parts = sections(document.read_text(encoding="utf-8"))
    v1 = [(m, normalise(p)) for n in ("5.1", "5.2", "5.3", "5.4", "5.5", "5.6")
          for m, p in V1_ROW.findall(parts[n])]  # fmt: skip
    v2 = [(m, "/api/v2" + normalise(p)) for m, p in V2_USER_ITEM.findall(parts["6.1"])]
    # §6.3: "The five v1 routes are unchanged", plus its own table.
    v2 += [(m, normalise(p.replace("/api/v1/", "/api/v2/", 1)))
           for m, p in V1_ROW.findall(parts["5.5"])]  # fmt: skip
    v2 += [(m, normalise(p)) for n in ("6.2", "6.3", "6.4", "6.5", "6.6")
           for m, p in V2_ROW.findall(parts[n])]  # fmt: skip
    return v1, v2


def shape(path: str) -> str:
    """Paths compare by their shape: parameter names may differ."""
    return TEMPLATE.sub("{}", path)


def served_routes() -> set[Route_]:
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    served: set[Route_] = set()
    for path, item in walk(list(app.routes)):
        methods = [item.method] if isinstance(item, DocumentedRoute) else item.methods or []
        served.update((method, shape(path)) for method in methods)
    return served


def test_spec_tables_parse_to_the_documented_counts() -> None:
    v1, v2 = spec_routes()
    assert len(v1) == len(set(v1)) == 36, v1
    assert len(v2) == len(set(v2)) == 50, v2
    assert ("POST", "/api/v2/posts/{pid}/bookmark") in v2
    assert ("PUT", "/api/v2/categories/{cid}/privileges") in v2
    assert not any(path.endswith("/topics/follow") for _, path in v1 + v2)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_spec_route_is_served(version: str) -> None:
    v1, v2 = spec_routes()
    served = served_routes()
    missing = [
        f"{m} {p}" for m, p in (v1 if version == "v1" else v2) if (m, shape(p)) not in served
    ]
    assert not missing, f"{len(missing)} {version} routes are missing:\n" + "\n".join(missing)


def routers() -> list[str]:
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    return [item.path for item in app.routes if isinstance(item, Mount) and item.routes]


@pytest.mark.parametrize("prefix", routers())
def test_unknown_paths_answer_404_in_the_router_envelope(prefix: str) -> None:
    client = TestClient(create_app(Settings(database_url="sqlite://", upload_dir="uploads")))
    # Paths no route matches, and a method no route at a known path takes.
    for method, path in (("GET", "/no/such/thing/here"), ("POST", "/no/such/thing"),
                         ("DELETE", "/ping"), ("PATCH", "/")):  # fmt: skip
        response = client.request(method, prefix + path, headers={"Authorization": "Bearer x"})
        assert response.status_code == 404, (method, prefix + path, response.text)
        body = response.json()
        if prefix == "/api/v3":
            assert body["status"]["code"] == "not-found", body
        else:
            assert body == {"code": "not-found", "message": "Invalid API call", "params": {}}


def test_paths_outside_the_routers_answer_404_too() -> None:
    client = TestClient(create_app(Settings(database_url="sqlite://", upload_dir="uploads")))
    for path in ("/", "/api", "/api/v9/users", "/assets/uploads/files/none.png"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "not-found"

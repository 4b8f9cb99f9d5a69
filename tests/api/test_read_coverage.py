"""Every path of NodeBB's read.yaml is either served or listed as not served in
docs/read-api.md (and nothing listed there is served), so the list README points to is
complete and true."""

import re
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import unquote

import yaml

from api.app import create_app
from api.openapi import walk
from forumq.settings import Settings
from tests.api.nodebb_schemas import NODEBB
from tests.api.reads import get, new_user, refused
from tests.support import Stack

DOC = Path(__file__).resolve().parents[2] / "docs" / "read-api.md"


def shape(path: str) -> str:
    """Paths compare by shape: parameter names may differ; NodeBB's `*` is one."""
    return re.sub(r"\{[^}]*\}|\*", "{}", path.rstrip("/") or "/")


def served() -> set[str]:
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    return {shape(path) for path, route in walk(list(app.routes))
            if getattr(route, "method", "GET") == "GET"}  # fmt: skip


def documented() -> list[str]:
    return list(yaml.safe_load((NODEBB / "read.yaml").read_text(encoding="utf-8"))["paths"])


def listed() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Not served (404)\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`(/[^`\s]*)`", section)


def test_every_read_yaml_path_is_served_or_listed() -> None:
    on_the_app, patterns = served(), listed()
    missing = [path for path in documented() if shape(path) not in on_the_app
               and not any(fnmatchcase(path, p) for p in patterns)]  # fmt: skip
    assert not missing, "neither served nor listed in docs/read-api.md: " + ", ".join(missing)


def test_nothing_listed_as_not_served_is_served() -> None:
    on_the_app = served()
    paths = [p for p in documented() if shape(p) in on_the_app]
    wrong = {p: pattern for pattern in listed() if pattern.startswith("/api/")
             for p in paths if fnmatchcase(p, pattern)}  # fmt: skip
    assert not wrong, f"listed as not served, yet served: {wrong}"


def test_me_shorthands(any_stack: Stack) -> None:
    _, token, slug = new_user(any_stack)
    for path, where in (("/api/me", f"/user/{slug}"),
                        ("/api/me/bookmarks", f"/user/{slug}/bookmarks")):  # fmt: skip
        moved = get(any_stack, path, token)
        assert moved.status_code == 200 and moved.json() == where
        assert unquote(moved.headers["x-redirect"]) == where
    refused(get(any_stack, "/api/me/bookmarks"), 401)


def test_a_page_past_every_row_is_empty_not_an_error(any_stack: Stack) -> None:
    """``?page=`` of 19 digits: the offset would pass a 64-bit integer (PostgreSQL's
    OFFSET refuses it); NodeBB answers such a page empty."""
    _, _, slug = new_user(any_stack)
    huge = "9" * 19
    for path in ("/api/recent", f"/api/category/{any_stack.cid}", f"/api/user/{slug}/posts",
                 "/api/users", "/api/unread/total", "/api/tags/none"):  # fmt: skip
        response = get(any_stack, path, page=huge)
        assert response.status_code in (200, 401), (path, response.text)

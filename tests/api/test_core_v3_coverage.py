"""Every operation of core's ``write.yaml`` is either served under ``/api/v3`` or listed
as not served, with a reason, in docs/core-v3.md; and the document's two tables say
what the application really serves."""

import re
from pathlib import Path

from api.app import create_app
from api.openapi import walk
from forumq.settings import Settings
from tests.nodebb_spec import operations

DOC = Path(__file__).resolve().parents[2] / "docs" / "core-v3.md"
ROW = re.compile(r"^\| (GET|HEAD|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (.+) \|$", re.M)
Operation = tuple[str, str]


def shape(path: str) -> str:
    """Paths compare by shape: ``/topics/`` is ``/topics``; parameter names may differ."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def served() -> set[Operation]:
    app = create_app(Settings(database_url="sqlite://", upload_dir="uploads"))
    return {
        (item.method, shape(path.removeprefix("/api/v3")))
        for path, item in walk(list(app.routes))
        if path.startswith("/api/v3/")
    }


def listed(section: str) -> dict[Operation, str]:
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {(method, shape(path)): why for method, path, why in ROW.findall(body)}


def test_every_operation_is_served_or_listed_as_not_served() -> None:
    documented = {(method, shape(path)) for method, path in operations()}
    assert len(documented) == 207
    on_the_app, not_served = served(), listed("Not served")
    unaccounted = sorted(documented - on_the_app - set(not_served))
    assert not unaccounted, "neither served nor listed in docs/core-v3.md:\n" + "\n".join(
        f"{method} {path}" for method, path in unaccounted
    )
    assert all(why.strip() for why in not_served.values())


def test_the_tables_say_what_is_served() -> None:
    on_the_app = served()
    wrongly_unserved = sorted(set(listed("Not served")) & on_the_app)
    assert not wrongly_unserved, f"served, yet listed as not served: {wrongly_unserved}"
    assert set(listed("Served")) == on_the_app

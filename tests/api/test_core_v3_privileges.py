"""Core's category privilege table over /api/v3: ``GET /categories/{cid}/privileges``
(admins), and the table the privilege and moderator writes answer. Every answer is
checked against ``write.yaml``."""

from typing import Any

from tests.core_v3 import Core
from tests.support import unique, user_with_token


def _group(table: dict[str, Any], name: str) -> dict[str, bool]:
    return next(row["privileges"] for row in table["groups"] if row["name"] == name)


def test_the_table_shows_who_holds_what(core: Core) -> None:
    admin = core.stack.admin_token
    uid, token = user_with_token(core.stack.database_url)
    cid = core.ok(admin, "POST", "/categories", json={"name": unique("Table ")})["cid"]
    table = core.ok(admin, "GET", f"/categories/{cid}/privileges")
    names = [row["name"] for row in table["groups"]]
    # Core's order: the ephemeral groups, then registered users; never the administrators.
    assert names[:3] == ["guests", "spiders", "registered-users"]
    assert "administrators" not in names
    assert _group(table, "registered-users")["groups:topics:create"] is True
    assert _group(table, "guests")["groups:topics:create"] is False
    assert _group(table, "guests")["groups:read"] is True
    assert table["users"] == []
    assert table["keys"]["users"][0] == "find" and len(table["labelData"]) == 17
    # A grant answers the table as it now is.
    path = f"/categories/{cid}/privileges/topics:create"
    after = core.ok(admin, "DELETE", path, json={"member": "registered-users"})
    assert _group(after, "registered-users")["groups:topics:create"] is False
    after = core.ok(admin, "PUT", path, json={"member": str(uid)})
    assert [(row["uid"], row["privileges"]["topics:create"]) for row in after["users"]] == [
        (uid, True)
    ]
    moderated = core.ok(admin, "PUT", f"/categories/{cid}/moderator/{uid}")
    assert moderated["users"][0]["privileges"]["moderate"] is True
    # Admins only; an unknown category is 404.
    assert core.refused(token, "GET", f"/categories/{cid}/privileges", 403) == (
        "[[error:no-privileges]]"
    )
    core.refused(admin, "GET", "/categories/987654321/privileges", 404)
    core.refused(admin, "GET", "/categories/abc/privileges", 404)


def test_cid_0_is_the_global_table(core: Core) -> None:
    admin = core.stack.admin_token
    uid, _ = user_with_token(core.stack.database_url)
    table = core.ok(admin, "GET", "/categories/0/privileges")
    assert "chat" in table["keys"]["users"] and "find" not in table["keys"]["users"]
    path = "/categories/0/privileges/signature"
    table = core.ok(admin, "PUT", path, json={"member": str(uid)})
    assert {row["uid"]: row["privileges"]["signature"] for row in table["users"]}[uid] is True
    table = core.ok(admin, "DELETE", f"{path}/{uid}")
    assert uid not in {row["uid"] for row in table["users"]}

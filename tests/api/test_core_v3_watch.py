"""Core's v3 category watch states (``PUT``/``DELETE /categories/{cid}/watch``): each
answer checked against core's ``write.yaml``, the rows after each write, and what the
states change in the read API (the category page's flags, ``/api/unread``,
``/api/recent``). A refused write leaves no row."""

from typing import Any

from forum.db import transaction
from forum.groups import add_member
from forum.models import Category, CategoryWatch
from forum.privileges import GLOBAL_MODERATORS
from tests.api.reads import get, new_topic, ok, refused
from tests.api.reads import new_user as reads_user
from tests.core_v3 import Core
from tests.support import new_category, user_with_token


def family(core: Core) -> tuple[int, int, int]:
    """A category, its child and grandchild."""
    url = core.stack.database_url
    parent = new_category(url, "Watched parent")
    child, grandchild = new_category(url, "Watched child"), new_category(url, "Grandchild")
    with transaction(url) as session:
        session.get(Category, child).parent_cid = parent
        session.get(Category, grandchild).parent_cid = child
    return parent, child, grandchild


def states(core: Core, uid: int) -> dict[int, int]:
    return {row.cid: row.state for row in core.rows(CategoryWatch, CategoryWatch.uid == uid)}


def flags(core: Core, token: str, cid: int) -> dict[str, bool]:
    page = ok(get(core.stack, f"/api/category/{cid}", token), f"/api/category/{cid}/x")
    return {k: page[k] for k in ("isWatched", "isTracked", "isNotWatched", "isIgnored")}


def listed(core: Core, token: str, path: str, **params: Any) -> list[int]:
    return [t["tid"] for t in ok(get(core.stack, path, token, **params))["topics"]]


def test_a_state_applies_to_the_category_and_its_descendants(core: Core, member: Any) -> None:
    uid, token = member
    parent, child, grandchild = family(core)
    answer = core.ok(token, "PUT", f"/categories/{parent}/watch", json={"state": "watching"})
    assert answer == {"modified": [str(parent), str(child), str(grandchild)]}
    assert states(core, uid) == {parent: 4, child: 4, grandchild: 4}
    expected = {"isWatched": True, "isTracked": False, "isNotWatched": False, "isIgnored": False}
    assert flags(core, token, grandchild) == expected
    # A child's own state leaves its parent's alone.
    answer = core.ok(token, "PUT", f"/categories/{child}/watch", json={"state": "notwatching"})
    assert answer == {"modified": [str(child), str(grandchild)]}
    assert states(core, uid) == {parent: 4, child: 2, grandchild: 2}
    assert flags(core, token, child)["isNotWatched"]
    # DELETE is the forum's default, tracking: no row is kept for it.
    assert core.ok(token, "DELETE", f"/categories/{parent}/watch") == {
        "modified": [str(parent), str(child), str(grandchild)]}  # fmt: skip
    assert states(core, uid) == {}
    assert flags(core, token, child)["isTracked"]


def test_ignored_and_unwatched_categories_leave_the_lists(core: Core, member: Any) -> None:
    uid, token = member
    author, _ = user_with_token(core.stack.database_url)
    cid = new_category(core.stack.database_url, "Lists")
    tid, followed = new_topic(core.stack, author, cid), new_topic(core.stack, author, cid)
    core.ok(token, "PUT", f"/topics/{followed}/follow")
    assert set(listed(core, token, "/api/unread")) >= {tid, followed}
    core.ok(token, "PUT", f"/categories/{cid}/watch", json={"state": "notwatching"})
    unread = listed(core, token, "/api/unread")
    assert followed in unread and tid not in unread  # a followed topic stays unread
    assert tid in listed(core, token, "/api/recent")
    core.ok(token, "PUT", f"/categories/{cid}/watch", json={"state": "ignoring"})
    assert tid not in listed(core, token, "/api/recent")
    assert tid in listed(core, token, "/api/recent", cid=cid)  # asked for by its category
    assert followed in listed(core, token, "/api/unread")
    core.ok(token, "PUT", f"/categories/{cid}/watch", json={"state": "tracking"})
    assert states(core, uid) == {}
    assert {tid, followed} <= set(listed(core, token, "/api/unread"))
    assert tid in listed(core, token, "/api/recent")


def test_another_users_state_is_for_admins_and_global_moderators(core: Core, member: Any) -> None:
    uid, token = member
    other, other_token = user_with_token(core.stack.database_url)
    cid = new_category(core.stack.database_url, "Others")
    body = {"state": "ignoring", "uid": other}
    assert core.refused(token, "PUT", f"/categories/{cid}/watch", 403, json=body) == (
        "[[error:no-privileges]]"
    )
    core.refused(token, "DELETE", f"/categories/{cid}/watch/{other}", 403)
    assert states(core, other) == {}
    with transaction(core.stack.database_url) as session:
        add_member(session, GLOBAL_MODERATORS, uid)
    assert core.ok(token, "PUT", f"/categories/{cid}/watch", json=body) == {"modified": [str(cid)]}
    assert states(core, other) == {cid: 1} and states(core, uid) == {}
    assert flags(core, other_token, cid)["isIgnored"]
    admin = core.stack.admin_token
    assert core.ok(admin, "DELETE", f"/categories/{cid}/watch/{other}") == {"modified": [str(cid)]}
    assert states(core, other) == {}
    # uid 0 (or none) is the caller's own.
    core.ok(token, "PUT", f"/categories/{cid}/watch", json={"state": "watching", "uid": 0})
    assert states(core, uid) == {cid: 4}


def test_bad_input_is_refused_and_leaves_no_row(core: Core, member: Any) -> None:
    uid, token = member
    cid = new_category(core.stack.database_url, "Refusals")
    for body in ({"state": "sleeping"}, {}, {"state": 4}, {"state": ["watching"]}):
        message = core.refused(token, "PUT", f"/categories/{cid}/watch", 400, json=body)
        assert message == "[[error:invalid-data]]"
    gone = cid + 10_000
    for method in ("PUT", "DELETE"):
        message = core.refused(token, method, f"/categories/{gone}/watch", 404,
                               json={"state": "watching"})  # fmt: skip
        assert message == "[[error:no-category]]"
        core.refused(token, method, "/categories/nope/watch", 404, json={"state": "watching"})
    admin = core.stack.admin_token
    missing = uid + 10_000
    message = core.refused(admin, "PUT", f"/categories/{cid}/watch", 404,
                           json={"state": "watching", "uid": missing})  # fmt: skip
    assert message == "[[error:no-user]]"
    core.refused(admin, "DELETE", f"/categories/{cid}/watch/nobody", 404)
    assert core.count(CategoryWatch.cid == cid) == 0


def test_a_purged_category_or_deleted_user_leaves_no_state(core: Core, member: Any) -> None:
    uid, token = member
    cid, kept = new_category(core.stack.database_url), new_category(core.stack.database_url)
    core.ok(token, "PUT", f"/categories/{cid}/watch", json={"state": "ignoring"})
    core.ok(token, "PUT", f"/categories/{kept}/watch", json={"state": "watching"})
    core.ok(core.stack.admin_token, "DELETE", f"/categories/{cid}")
    assert states(core, uid) == {kept: 4}
    core.ok(core.stack.admin_token, "DELETE", f"/users/{uid}")
    assert core.count(CategoryWatch.uid == uid) == 0


def test_a_users_categories_page_shows_their_states(core: Core) -> None:
    uid, token, slug = reads_user(core.stack)
    _, other_token, _ = reads_user(core.stack)
    parent, child, _ = family(core)
    core.ok(token, "PUT", f"/categories/{child}/watch", json={"state": "ignoring"})
    page = ok(get(core.stack, f"/api/user/{slug}/categories", token))
    shown = {c["cid"]: c for c in page["categories"]}
    assert shown[child]["isIgnored"] and not shown[child]["isTracked"]
    assert shown[parent]["isTracked"] and shown[child]["depth"] == shown[parent]["depth"] + 1
    assert page["uid"] == uid and page["pagination"]["currentPage"] == 1
    refused(get(core.stack, f"/api/user/{slug}/categories", other_token), 403)
    admin_view = ok(get(core.stack, f"/api/user/{slug}/categories", core.stack.admin_token))
    assert {c["cid"]: c["isIgnored"] for c in admin_view["categories"]}[child]

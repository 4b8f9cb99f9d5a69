"""Group routes over HTTP through the queue: create, delete, join / request, leave and
the v2 admin membership routes."""

import uuid

from sqlalchemy import func, select

from forum.models import Group, GroupMember, GroupRequest
from tests.support import Stack, error, ok, user_with_token


def group_name() -> str:
    return f"Group {uuid.uuid4().hex[:8]}"


def make_group(stack: Stack, *, private: bool = False, owner: int | None = None) -> dict:
    body: dict[str, object] = {"name": group_name(), "private": int(private)}
    if owner is not None:
        body["ownerUid"] = owner
    with stack.client(stack.admin_token) as client:
        return ok(client.post("/api/v1/groups", json=body))


def members(stack: Stack, name: str) -> tuple[int, set[int], set[int]]:
    """(member_count, member uids, owner uids)."""
    with stack.session() as session:
        group = session.get(Group, name)
        rows = session.execute(
            select(GroupMember.uid, GroupMember.is_owner).where(GroupMember.group_name == name)
        ).all()
    return group.member_count, {r.uid for r in rows}, {r.uid for r in rows if r.is_owner}


def pending(stack: Stack, name: str) -> set[int]:
    with stack.session() as session:
        return set(session.scalars(select(GroupRequest.uid).where(GroupRequest.group_name == name)))


def test_create_group_returns_the_group_and_owner_is_member(stack: Stack) -> None:
    owner, _ = user_with_token(stack.database_url)
    name = group_name()
    with stack.client(stack.admin_token) as client:
        group = ok(
            client.post(
                "/api/v2/groups",
                data={
                    "name": name,
                    "description": "About",
                    "hidden": "1",
                    "private": "0",
                    "ownerUid": str(owner),
                },
            )
        )
    assert group["name"] == name and group["slug"] == name.lower().replace(" ", "-")
    assert (group["memberCount"], group["hidden"], group["private"], group["system"]) == (
        1,
        1,
        0,
        0,
    )
    assert group["description"] == "About" and group["createtime"] > 0
    assert members(stack, name) == (1, {owner}, {owner})


def test_create_group_errors(stack: Stack) -> None:
    _, user_token = user_with_token(stack.database_url)
    existing = make_group(stack)
    with stack.client(user_token) as client:
        not_admin = client.post("/api/v1/groups", json={"name": group_name()})
    with stack.client(stack.admin_token) as client:
        missing = client.post("/api/v1/groups", json={"description": "no name"})
        exists = client.post("/api/v1/groups", json={"name": existing["name"]})
        slug_clash = client.post("/api/v1/groups", json={"name": existing["name"].upper()})
        slash = client.post("/api/v1/groups", json={"name": "a/b"})
        colon = client.post("/api/v1/groups", json={"name": "cid:1:privileges"})
        guests = client.post("/api/v1/groups", json={"name": "guests"})
        too_long = client.post("/api/v1/groups", json={"name": "g" * 256})
        bad_owner = client.post("/api/v1/groups", json={"name": group_name(), "ownerUid": 99999999})
    with stack.client(stack.master_token) as client:
        master_non_admin = client.post(
            "/api/v2/groups",
            json={"name": group_name(), "_uid": user_with_token(stack.database_url)[0]},
        )
        master_no_uid = client.post("/api/v2/groups", json={"name": group_name()})
    with stack.client() as client:
        anonymous = client.post("/api/v2/groups", json={"name": group_name()})
    error(not_admin, 403, "forbidden")
    error(missing, 400, "params-missing")
    assert missing.json()["params"] == ["name"]
    error(exists, 400, "bad-request", "group-already-exists")
    error(slug_clash, 400, "bad-request", "group-already-exists")
    error(slash, 400, "bad-request", "invalid-group-name")
    error(colon, 400, "bad-request", "invalid-group-name")
    error(guests, 400, "bad-request", "invalid-group-name")
    error(too_long, 400, "bad-request", "group-name-too-long")
    error(bad_owner, 400, "bad-request", "no-user")
    error(master_non_admin, 403, "forbidden")
    error(master_no_uid, 400, "params-missing")
    error(anonymous, 401, "not-authorised")
    with stack.session() as session:
        assert session.scalar(select(func.count()).where(Group.name.like("a/b%"))) == 0


def test_delete_group_owner_or_admin(stack: Stack) -> None:
    owner, owner_token = user_with_token(stack.database_url)
    _, other_token = user_with_token(stack.database_url)
    by_owner = make_group(stack, owner=owner)
    by_admin = make_group(stack, owner=owner)
    with stack.client(other_token) as client:
        forbidden = client.delete(f"/api/v1/groups/{by_owner['slug']}")
        unknown = client.delete("/api/v1/groups/no-such-group-here")
    error(forbidden, 403, "forbidden")
    error(unknown, 404, "not-found")
    with stack.client(owner_token) as client:
        ok(client.delete(f"/api/v1/groups/{by_owner['slug']}"))
    with stack.client(stack.master_token) as client:
        ok(client.delete(f"/api/v2/groups/{by_admin['slug']}", params={"_uid": stack.admin_uid}))
        system = client.delete("/api/v2/groups/administrators", params={"_uid": stack.admin_uid})
    error(system, 400, "bad-request", "not-allowed")
    with stack.session() as session:
        assert session.get(Group, by_owner["name"]) is None
        assert session.get(Group, by_admin["name"]) is None
        assert session.get(Group, "administrators") is not None
        gone = (by_owner["name"], by_admin["name"])
        assert session.scalar(select(func.count()).where(GroupMember.group_name.in_(gone))) == 0
    with stack.client() as client:
        error(client.delete(f"/api/v1/groups/{by_owner['slug']}"), 401, "not-authorised")


def test_join_and_leave_public_group(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    group = make_group(stack)
    slug, name = group["slug"], group["name"]
    with stack.client(token) as client:
        ok(client.post(f"/api/v1/groups/{slug}/membership"))
        assert members(stack, name) == (1, {uid}, set())
        ok(client.put(f"/api/v2/groups/{slug}/membership"))  # already in: nothing changes
        assert members(stack, name) == (1, {uid}, set())
        wrong_verb = client.put(f"/api/v1/groups/{slug}/membership")
        ok(client.delete(f"/api/v1/groups/{slug}/membership"))
        not_member = client.delete(f"/api/v2/groups/{slug}/membership")
        unknown = client.post("/api/v1/groups/no-such-group-here/membership")
    error(wrong_verb, 404, "not-found")
    error(not_member, 400, "bad-request", "group-not-member")
    error(unknown, 404, "not-found")
    assert members(stack, name) == (0, set(), set())


def test_private_group_join_is_a_request(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    group = make_group(stack, private=True)
    with stack.client(token) as client:
        ok(client.put(f"/api/v2/groups/{group['slug']}/membership"))
        ok(client.put(f"/api/v2/groups/{group['slug']}/membership"))
        assert pending(stack, group["name"]) == {uid}
        assert members(stack, group["name"]) == (0, set(), set())
        ok(client.delete(f"/api/v2/groups/{group['slug']}/membership"))  # withdraws it
    assert pending(stack, group["name"]) == set()


def test_system_groups_are_not_joined_by_users(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    with stack.client(token) as client:
        refused = client.post("/api/v1/groups/administrators/membership")
    error(refused, 403, "forbidden")
    assert uid not in members(stack, "administrators")[1]
    assert uid not in pending(stack, "administrators")


def test_admin_add_and_remove_member_v2(stack: Stack) -> None:
    uid, token = user_with_token(stack.database_url)
    group = make_group(stack, private=True)
    slug, name = group["slug"], group["name"]
    with stack.client(token) as client:
        ok(client.put(f"/api/v2/groups/{slug}/membership"))  # a pending request
        not_admin = client.put(f"/api/v2/groups/{slug}/membership/{uid}")
    with stack.client() as client:
        anonymous_unknown = client.put(f"/api/v2/groups/no-such-group-here/membership/{uid}")
        anonymous = client.put(f"/api/v2/groups/{slug}/membership/{uid}")
    error(not_admin, 403, "forbidden")
    error(anonymous_unknown, 404, "not-found")  # V404 comes first
    error(anonymous, 401, "not-authorised")
    with stack.client(stack.admin_token) as client:
        ok(client.put(f"/api/v2/groups/{slug}/membership/{uid}"))
        assert members(stack, name) == (1, {uid}, set())
        assert pending(stack, name) == set()  # the request was granted
        ok(client.put(f"/api/v2/groups/{slug}/membership/{uid}"))
        no_user = client.put(f"/api/v2/groups/{slug}/membership/99999999")
        not_numeric = client.put(f"/api/v2/groups/{slug}/membership/abc")
        ok(client.delete(f"/api/v2/groups/{slug}/membership/{uid}"))
        not_member = client.delete(f"/api/v2/groups/{slug}/membership/{uid}")
        v1 = client.put(f"/api/v1/groups/{slug}/membership/{uid}")
    error(no_user, 404, "not-found")
    error(not_numeric, 404, "not-found")
    error(not_member, 400, "bad-request", "group-not-member")
    error(v1, 404, "not-found")  # a v2-only route
    assert members(stack, name) == (0, set(), set())


def test_routes_per_version() -> None:
    from api import groups

    assert len(groups.routes("v1")) == 4 and len(groups.routes("v2")) == 6

"""Core's group ownership, join requests and invitations over /api/v3: the group's
owners, admins and global moderators manage them, as core's ``isOwner`` check. Every
answer is checked against ``write.yaml``; refusals leave the rows as they were."""

from sqlalchemy import select

from forum.models import GroupInvite, GroupMember, GroupRequest
from tests.core_v3 import Core
from tests.support import unique, user_with_token


def _group(core: Core, owner: int) -> tuple[str, str]:
    """A private group owned by ``owner``: (name, slug)."""
    body = {"name": unique("Crew "), "private": True, "ownerUid": owner}
    group = core.ok(core.stack.admin_token, "POST", "/groups", json=body)
    return group["name"], group["slug"]


def _members(core: Core, name: str) -> dict[int, bool]:
    with core.stack.session() as session:
        rows = session.execute(
            select(GroupMember.uid, GroupMember.is_owner).where(GroupMember.group_name == name)
        )
        return {uid: owner for uid, owner in rows}


def test_requests_are_accepted_or_rejected_by_owners(core: Core) -> None:
    (owner, o), (alice, a), (bob, b) = (user_with_token(core.stack.database_url) for _ in "abc")
    name, slug = _group(core, owner)
    core.ok(a, "PUT", f"/groups/{slug}/membership/{alice}")
    core.ok(b, "PUT", f"/groups/{slug}/membership/{bob}")
    assert core.count(GroupRequest.group_name == name) == 2
    pending = core.ok(o, "GET", f"/groups/{slug}/pending")["pending"]
    assert [user["uid"] for user in pending] == [alice, bob]
    core.refused(a, "GET", f"/groups/{slug}/pending", 403)
    core.refused(o, "GET", "/groups/no-such-group-here/pending", 404)
    # A member of nothing manages nothing: 403; the group's owner accepts.
    assert core.refused(b, "PUT", f"/groups/{slug}/pending/{alice}", 403) == (
        "[[error:no-privileges]]"
    )
    assert core.ok(o, "PUT", f"/groups/{slug}/pending/{alice}") == {}
    assert _members(core, name) == {owner: True, alice: False}
    said = core.refused(o, "PUT", f"/groups/{slug}/pending/{alice}", 400)
    assert said == "[[error:group-user-not-pending]]"
    assert core.ok(o, "DELETE", f"/groups/{slug}/pending/{bob}") == {}
    assert core.count(GroupRequest.group_name == name) == 0
    assert bob not in _members(core, name)
    core.refused(o, "PUT", "/groups/no-such-group-here/pending/1", 404)
    core.refused(o, "PUT", f"/groups/{slug}/pending/abc", 404)


def test_ownership_is_granted_to_members_and_a_group_keeps_one_owner(core: Core) -> None:
    (owner, o), (alice, a), (bob, _) = (user_with_token(core.stack.database_url) for _ in "abc")
    name, slug = _group(core, owner)
    core.ok(core.stack.admin_token, "PUT", f"/groups/{slug}/membership/{alice}")
    core.refused(a, "PUT", f"/groups/{slug}/ownership/{alice}", 403)
    said = core.refused(o, "PUT", f"/groups/{slug}/ownership/{bob}", 400)
    assert said == "[[error:group-not-member]]"
    assert core.ok(o, "PUT", f"/groups/{slug}/ownership/{alice}") == {}
    assert _members(core, name) == {owner: True, alice: True}
    assert core.ok(a, "DELETE", f"/groups/{slug}/ownership/{owner}") == {}
    said = core.refused(a, "DELETE", f"/groups/{slug}/ownership/{alice}", 400)
    assert said == "[[error:group-needs-owner]]"
    assert _members(core, name) == {owner: False, alice: True}
    # Admins manage any group.
    assert core.ok(core.stack.admin_token, "PUT", f"/groups/{slug}/ownership/{owner}") == {}
    assert _members(core, name)[owner] is True


def test_invitations(core: Core) -> None:
    (owner, o), (alice, a), (bob, b) = (user_with_token(core.stack.database_url) for _ in "abc")
    name, slug = _group(core, owner)
    core.refused(a, "POST", f"/groups/{slug}/invites/{bob}", 403)
    assert core.ok(o, "POST", f"/groups/{slug}/invites/{alice}") == {}
    assert core.ok(o, "POST", f"/groups/{slug}/invites/{alice}") == {}  # once is enough
    core.ok(o, "POST", f"/groups/{slug}/invites/{bob}")
    assert core.count(GroupInvite.group_name == name) == 2
    invited = core.ok(o, "GET", f"/groups/{slug}/invites")["invites"]
    assert sorted(user["uid"] for user in invited) == sorted([alice, bob])
    core.refused(b, "GET", f"/groups/{slug}/invites", 403)
    core.refused(o, "POST", f"/groups/{slug}/invites/987654321", 404)
    # Only the invited user accepts.
    said = core.refused(b, "PUT", f"/groups/{slug}/invites/{alice}", 400)
    assert said == "[[error:not-allowed]]"
    assert core.ok(a, "PUT", f"/groups/{slug}/invites/{alice}") == {}
    assert alice in _members(core, name)
    said = core.refused(a, "PUT", f"/groups/{slug}/invites/{alice}", 400)
    assert said == "[[error:not-invited]]"
    # The invited user declines, or an owner withdraws.
    core.refused(a, "DELETE", f"/groups/{slug}/invites/{bob}", 400)
    assert core.ok(b, "DELETE", f"/groups/{slug}/invites/{bob}") == {}
    assert core.count(GroupInvite.group_name == name) == 0
    core.ok(o, "POST", f"/groups/{slug}/invites/{bob}")
    assert core.ok(o, "DELETE", f"/groups/{slug}/invites/{bob}") == {}
    assert bob not in _members(core, name)
    assert core.count(GroupInvite.group_name == name) == 0
    # Deleting the group takes its invitations.
    core.ok(o, "POST", f"/groups/{slug}/invites/{bob}")
    core.ok(core.stack.admin_token, "DELETE", f"/groups/{slug}")
    assert core.count(GroupInvite.group_name == name) == 0


def test_owners_update_a_group_and_a_rename_keeps_its_members_and_grants(core: Core) -> None:
    admin = core.stack.admin_token
    (owner, o), (alice, a) = (user_with_token(core.stack.database_url) for _ in "ab")
    name, slug = _group(core, owner)
    core.ok(a, "PUT", f"/groups/{slug}/membership/{alice}")  # a pending request
    cid = core.ok(admin, "POST", "/categories", json={"name": unique("Crew room ")})["cid"]
    core.ok(admin, "PUT", f"/categories/{cid}/privileges/moderate", json={"member": name})
    core.refused(a, "PUT", f"/groups/{slug}", 403, json={"description": "mine"})
    new_name = unique("Renamed ")
    group = core.ok(o, "PUT", f"/groups/{slug}", json={"name": new_name, "description": " Hi ",
                                                       "private": False})  # fmt: skip
    assert (group["name"], group["description"], group["private"]) == (new_name, "Hi", 0)
    # Public now: the pending request was admitted; the owner and the grant followed.
    assert _members(core, new_name) == {owner: True, alice: False}
    assert core.count(GroupRequest.group_name == new_name) == 0
    table = core.ok(admin, "GET", f"/categories/{cid}/privileges")
    held = {row["name"]: row["privileges"]["groups:moderate"] for row in table["groups"]}
    assert held.get(new_name) is True and name not in held
    core.refused(o, "PUT", f"/groups/{slug}", 404, json={"description": "gone"})
    said = core.refused(admin, "PUT", "/groups/administrators", 400, json={"name": "Bosses"})
    assert said == "[[error:not-allowed-to-rename-system-group]]"
    taken = core.refused(
        o, "PUT", f"/groups/{group['slug']}", 400, json={"name": "Global Moderators"}
    )
    assert taken == "[[error:group-already-exists]]"

"""Groups as NodeBB's read API shows them: ``/api/groups``, ``/api/groups/:slug`` and
its members (also v3 ``GET /groups/:slug/members``). Hidden groups are shown only to
their members and administrators; the system groups for guests, spiders and banned
users are never listed (NodeBB's ephemeral groups)."""

from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.clock import iso, now_ms
from forum.errors import forbidden, not_found
from forum.groups import can_manage
from forum.models import Group, GroupInvite, GroupMember, GroupRequest, User
from forum.privileges import GUESTS, REGISTERED_USERS, SPIDERS
from forum.read import objects
from forum.read.access import BANNED_USERS, Viewer
from forum.read.objects import JSON
from forum.read.pages import page_count, pagination
from forum.read.render import escape, markdown

NEVER_LISTED = (GUESTS, SPIDERS, REGISTERED_USERS, BANNED_USERS)
MEMBERS_PER_PAGE = 50


def group_data(group: Group) -> JSON:
    """``Groups.getGroupData`` (GroupDataObject)."""
    name = escape(group.name)
    return {
        "name": name, "slug": group.slug, "displayName": name, "nameEncoded": quote(group.name),
        "createtime": group.createtime, "createtimeISO": iso(group.createtime),
        "userTitle": name, "userTitleEscaped": name, "userTitleEnabled": 1,
        "description": escape(group.description), "memberCount": group.member_count,
        "hidden": int(group.hidden), "system": int(group.system), "private": int(group.private),
        "disableJoinRequests": 0, "disableLeave": 0, "labelColor": "#000000",
        "textColor": "#ffffff", "icon": "", "cover:url": "", "cover:thumb:url": "",
        "cover:position": "50% 50%", "memberPostCids": "", "memberPostCidsArray": [],
    }  # fmt: skip


def _visible(session: Session, viewer: Viewer, group: Group) -> bool:
    if group.name in NEVER_LISTED:
        return False
    if not group.hidden or viewer.admin:
        return True
    return group.name in viewer.groups


def groups_page(session: Session, viewer: Viewer) -> JSON:
    """``/api/groups``: the groups the caller may see, most members first."""
    found = session.scalars(select(Group).order_by(Group.member_count.desc(), Group.name))
    shown = [group_data(g) for g in found if _visible(session, viewer, g)]
    return {
        "groups": shown,
        "allowGroupCreation": viewer.logged_in and not viewer.banned,
        "nextStart": len(shown),
        "title": "[[pages:groups]]",
        "breadcrumbs": [{"text": "[[global:home]]", "url": "/"}, {"text": "[[pages:groups]]"}],
    }


def visible_group(session: Session, viewer: Viewer, slug: str) -> Group:
    group = session.scalar(select(Group).where(Group.slug == slug))
    if group is None or not _visible(session, viewer, group):
        raise not_found("no-group")
    return group


def _members(session: Session, group: Group, start: int, count: int, now: int) -> list[JSON]:
    rows = session.execute(
        select(User, GroupMember.is_owner).join(GroupMember, GroupMember.uid == User.uid)
        .where(GroupMember.group_name == group.name)
        .order_by(GroupMember.joined_at.desc(), User.uid).offset(start).limit(count)
    )  # fmt: skip
    return [{**objects.user_summary(user, now), "isOwner": owner} for user, owner in rows]


def group_page(session: Session, viewer: Viewer, slug: str, now: int) -> JSON:
    """``/api/groups/:slug``: the group, its first members, the caller's membership."""
    group = visible_group(session, viewer, slug)
    full = group_data(group)
    members = _members(session, group, 0, MEMBERS_PER_PAGE, now)
    mine = {m["uid"]: m for m in members}
    pending = bool(viewer.logged_in and session.scalar(
        select(func.count()).where(GroupRequest.group_name == group.name,
                                   GroupRequest.uid == viewer.uid)
    ))  # fmt: skip
    full.update(
        descriptionParsed=markdown(group.description) if group.description else "",
        members=members,
        membersNextStart=MEMBERS_PER_PAGE,
        pending=[],
        invited=[],
        isMember=group.name in viewer.groups,
        isPending=pending,
        isInvited=False,
        isOwner=bool(mine.get(viewer.uid, {}).get("isOwner")),
    )
    return {
        "group": full,
        "posts": [],
        "isAdmin": viewer.admin,
        "isGlobalMod": viewer.global_moderator,
        "allowPrivateGroups": 1,
        "title": f"[[pages:group, {full['displayName']}]]",
        "breadcrumbs": [
            {"text": "[[global:home]]", "url": "/"},
            {"text": "[[pages:groups]]", "url": "/groups"},
            {"text": full["displayName"]},
        ],
    }


def group_members(session: Session, viewer: Viewer, slug: str, page: int, now: int) -> JSON:
    """``/api/groups/:slug/members`` (and v3's, with ``after`` as the start)."""
    group = visible_group(session, viewer, slug)
    start = (page - 1) * MEMBERS_PER_PAGE
    users = _members(session, group, start, MEMBERS_PER_PAGE, now)
    return {
        "users": users,
        "nextStart": start + MEMBERS_PER_PAGE,
        "pagination": pagination(page, page_count(group.member_count, MEMBERS_PER_PAGE)),
        "breadcrumbs": [
            {"text": "[[global:home]]", "url": "/"},
            {"text": "[[pages:groups]]", "url": "/groups"},
            {"text": escape(group.name), "url": f"/groups/{group.slug}"},
            {"text": "[[groups:details.members]]"},
        ],
    }


def _asking(session: Session, actor: int, slug: str, table: type[GroupRequest | GroupInvite],
            since: Any) -> list[JSON]:  # fmt: skip
    group = session.scalar(select(Group).where(Group.slug == slug))
    if group is None:
        raise not_found("no-group")
    if not can_manage(session, actor, group):
        raise forbidden("no-privileges")
    users = session.scalars(
        select(User).join(table, table.uid == User.uid)
        .where(table.group_name == group.name).order_by(since, User.uid)
    )  # fmt: skip
    keys = ("uid", "username", "userslug", "picture", "displayname", "icon:text", "icon:bgColor")
    now = now_ms()
    return [{key: objects.user_summary(user, now)[key] for key in keys} for user in users]


def group_pending(session: Session, actor: int, slug: str) -> JSON:
    """``GET /groups/{slug}/pending``: the users asking to join (the group's managers)."""
    return {"pending": _asking(session, actor, slug, GroupRequest, GroupRequest.requested_at)}


def group_invites(session: Session, actor: int, slug: str) -> JSON:
    """``GET /groups/{slug}/invites``: the users invited (the group's managers)."""
    return {"invites": _asking(session, actor, slug, GroupInvite, GroupInvite.invited_at)}

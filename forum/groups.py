"""Groups: the system groups, creation, deletion and membership."""

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from forum.clock import now_ms
from forum.errors import bad_request, forbidden, not_found
from forum.models import CategoryPrivilege, Group, GroupInvite, GroupMember, GroupRequest, User
from forum.privileges import (
    ADMINISTRATORS,
    GLOBAL_MODERATORS,
    SYSTEM_GROUPS,
    in_group,
    is_admin,
    require_admin,
)
from forum.text import slugify


def ensure_system_groups(session: Session) -> None:
    existing = set(session.scalars(select(Group.name).where(Group.name.in_(SYSTEM_GROUPS))))
    for name in SYSTEM_GROUPS:
        if name not in existing:
            session.add(
                Group(name=name, slug=slugify(name), createtime=now_ms(), system=True,
                      hidden=False, private=True, member_count=0, description="")
            )  # fmt: skip
    session.flush()


def add_member(session: Session, group_name: str, uid: int, *, owner: bool = False) -> None:
    session.add(GroupMember(group_name=group_name, uid=uid, joined_at=now_ms(), is_owner=owner))
    session.execute(
        update(Group).where(Group.name == group_name).values(member_count=Group.member_count + 1)
    )


# --- Create, delete, membership (plugin-write-api.md §5.2, §6.2) --------------------------

MAXIMUM_GROUP_NAME_LENGTH = 255
# Names core reserves: `guests` explicitly, and the "cid:<n>:privileges:" groups by the `:`.
RESERVED_GROUP_NAMES = {"guests"}


def get_group(session: Session, slug: str, *, for_update: bool = False) -> Group:
    query = select(Group).where(Group.slug == slug)
    group = session.scalar(query.with_for_update() if for_update else query)
    if group is None:
        raise not_found("no-group")
    return group


def is_member(session: Session, name: str, uid: int) -> bool:
    query = exists().where(GroupMember.group_name == name, GroupMember.uid == uid)
    return bool(session.scalar(select(query)))


def is_owner(session: Session, name: str, uid: int) -> bool:
    query = exists().where(
        GroupMember.group_name == name, GroupMember.uid == uid, GroupMember.is_owner.is_(True)
    )
    return bool(session.scalar(select(query)))


def check_group_name(session: Session, name: str) -> str:
    """NodeBB's ``Groups.validateGroupName`` and its slug collision check."""
    name = name.strip()
    if not name:
        raise bad_request("group-name-too-short")
    if len(name) > MAXIMUM_GROUP_NAME_LENGTH:
        raise bad_request("group-name-too-long")
    if "/" in name or ":" in name or name.lower() in RESERVED_GROUP_NAMES or not slugify(name):
        raise bad_request("invalid-group-name")
    taken = or_(Group.name == name, Group.slug == slugify(name))
    if session.scalar(select(exists().where(taken))):
        raise bad_request("group-already-exists")
    return name


def create_group(
    session: Session,
    actor: int | None,
    name: str,
    *,
    description: str = "",
    hidden: bool = False,
    private: bool = True,
    owner_uid: int | None = None,
) -> dict[str, object]:
    """Admins only; ``owner_uid`` becomes the group's owner and first member."""
    require_admin(session, actor)
    name = check_group_name(session, name)
    if owner_uid is not None and session.get(User, owner_uid) is None:
        raise bad_request("no-user")
    group = Group(
        name=name, slug=slugify(name), description=description.strip(), createtime=now_ms(),
        member_count=0, hidden=hidden, system=False, private=private,
    )  # fmt: skip
    session.add(group)
    session.flush()
    if owner_uid is not None:
        add_member(session, name, owner_uid, owner=True)
    session.flush()
    session.refresh(group)
    return group_data(group)


def delete_group(session: Session, actor: int, slug: str) -> dict[str, object]:
    """The group's owner or an admin; system groups are never deleted."""
    group = get_group(session, slug, for_update=True)
    if not is_admin(session, actor) and not is_owner(session, group.name, actor):
        raise forbidden("no-privileges")
    if group.system:
        raise bad_request("not-allowed")
    name = group.name
    session.execute(delete(GroupMember).where(GroupMember.group_name == name))
    session.execute(delete(GroupRequest).where(GroupRequest.group_name == name))
    session.execute(delete(GroupInvite).where(GroupInvite.group_name == name))
    session.execute(delete(CategoryPrivilege).where(CategoryPrivilege.group_name == name))
    session.execute(delete(Group).where(Group.name == name))
    return {}


def join_group(session: Session, actor: int, slug: str) -> dict[str, object]:
    """Join, or ask to join a private group (a pending request). Already in: nothing to do.

    Unlike the plugin (core checks nothing there), system groups such as
    ``administrators`` are never joined this way by non-admins."""
    group = get_group(session, slug, for_update=True)
    admin = is_admin(session, actor)
    if group.system and not admin:
        raise forbidden("no-privileges")
    if is_member(session, group.name, actor):
        return {}
    if group.private and not admin:
        pending = exists().where(GroupRequest.group_name == group.name, GroupRequest.uid == actor)
        if not session.scalar(select(pending)):
            session.add(GroupRequest(group_name=group.name, uid=actor, requested_at=now_ms()))
        return {}
    _admit(session, group.name, actor)
    return {}


def leave_group(session: Session, actor: int, slug: str) -> dict[str, object]:
    """Leave (or withdraw a pending request); not a member: 400."""
    group = get_group(session, slug, for_update=True)
    _remove(session, group.name, actor)
    return {}


def add_group_member(session: Session, actor: int, slug: str, uid: int) -> dict[str, object]:
    """v2 admin route: add ``uid`` directly, bypassing privacy and approval."""
    group = get_group(session, slug, for_update=True)
    require_admin(session, actor)
    if session.get(User, uid) is None:
        raise not_found("no-user")
    if not is_member(session, group.name, uid):
        _admit(session, group.name, uid)
    return {}


def remove_group_member(session: Session, actor: int, slug: str, uid: int) -> dict[str, object]:
    group = get_group(session, slug, for_update=True)
    require_admin(session, actor)
    _remove(session, group.name, uid)
    return {}


def _admit(session: Session, name: str, uid: int) -> None:
    _forget_asks(session, name, uid)
    add_member(session, name, uid)


def _forget_asks(session: Session, name: str, uid: int) -> None:
    """The user's pending request and invitation go (core's ``rejectMembership``)."""
    session.execute(
        delete(GroupRequest).where(GroupRequest.group_name == name, GroupRequest.uid == uid)
    )
    session.execute(
        delete(GroupInvite).where(GroupInvite.group_name == name, GroupInvite.uid == uid)
    )


def _remove(session: Session, name: str, uid: int) -> None:
    if name == ADMINISTRATORS and is_member(session, name, uid):
        admins = select(func.count()).where(GroupMember.group_name == ADMINISTRATORS)
        if session.scalar(admins) == 1:
            raise bad_request("cant-remove-last-admin")
    removed = session.execute(
        delete(GroupMember).where(GroupMember.group_name == name, GroupMember.uid == uid)
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        session.execute(
            update(Group).where(Group.name == name).values(member_count=Group.member_count - 1)
        )
        return
    withdrawn = session.execute(
        delete(GroupRequest).where(GroupRequest.group_name == name, GroupRequest.uid == uid)
    )
    if not withdrawn.rowcount:  # type: ignore[attr-defined]
        raise bad_request("group-not-member")


# --- Ownership, requests and invitations (core's /groups/{slug}/ownership|pending|invites) ----


def can_manage(session: Session, actor: int, group: Group) -> bool:
    """Core's ``isOwner`` check: the group's owners, admins, and global moderators for a
    group that is not a system group."""
    if is_owner(session, group.name, actor) or is_admin(session, actor):
        return True
    return not group.system and in_group(session, actor, GLOBAL_MODERATORS)


def _managed(session: Session, actor: int, slug: str) -> Group:
    group = get_group(session, slug, for_update=True)
    if not can_manage(session, actor, group):
        raise forbidden("no-privileges")
    return group


def set_ownership(
    session: Session, actor: int, slug: str, uid: int, owner: bool
) -> dict[str, object]:
    """Grant or rescind ownership of a member; the last owner stays (``group-needs-owner``)."""
    group = _managed(session, actor, slug)
    member = session.get(GroupMember, (group.name, uid))
    if member is None:
        raise bad_request("group-not-member")
    if not owner and member.is_owner:
        owners = select(func.count()).where(
            GroupMember.group_name == group.name, GroupMember.is_owner.is_(True)
        )
        if session.scalar(owners) == 1:
            raise bad_request("group-needs-owner")
    member.is_owner = owner
    session.flush()
    return {}


def _pending(session: Session, actor: int, slug: str, uid: int) -> Group:
    group = _managed(session, actor, slug)
    pending = exists().where(GroupRequest.group_name == group.name, GroupRequest.uid == uid)
    if not session.scalar(select(pending)):
        raise bad_request("group-user-not-pending")
    return group


def accept_request(session: Session, actor: int, slug: str, uid: int) -> dict[str, object]:
    group = _pending(session, actor, slug, uid)
    _admit(session, group.name, uid)
    return {}


def reject_request(session: Session, actor: int, slug: str, uid: int) -> dict[str, object]:
    group = _pending(session, actor, slug, uid)
    _forget_asks(session, group.name, uid)
    return {}


def _invited(session: Session, name: str, uid: int) -> bool:
    query = exists().where(GroupInvite.group_name == name, GroupInvite.uid == uid)
    return bool(session.scalar(select(query)))


def invite(session: Session, actor: int, slug: str, uid: int) -> dict[str, object]:
    """The group's managers invite a user; a member or one already invited: nothing to do."""
    group = _managed(session, actor, slug)
    if session.get(User, uid) is None:
        raise not_found("no-user")
    if not is_member(session, group.name, uid) and not _invited(session, group.name, uid):
        session.add(GroupInvite(group_name=group.name, uid=uid, invited_at=now_ms()))
    return {}


def accept_invite(session: Session, actor: int, slug: str, uid: int) -> dict[str, object]:
    """Only the invited user accepts."""
    group = get_group(session, slug, for_update=True)
    if actor != uid:
        raise bad_request("not-allowed")
    if not _invited(session, group.name, uid):
        raise bad_request("not-invited")
    _admit(session, group.name, uid)
    return {}


def reject_invite(session: Session, actor: int, slug: str, uid: int) -> dict[str, object]:
    """The invited user declines, or a manager withdraws the invitation."""
    group = get_group(session, slug, for_update=True)
    if actor != uid and not can_manage(session, actor, group):
        raise bad_request("not-allowed")
    if not _invited(session, group.name, uid):
        raise bad_request("not-invited")
    _forget_asks(session, group.name, uid)
    return {}


def update_group(
    session: Session,
    actor: int,
    slug: str,
    name: str | None = None,
    description: str | None = None,
    hidden: bool | None = None,
    private: bool | None = None,
) -> dict[str, object]:
    """``PUT /groups/{slug}``: the group's managers rename it, describe it, hide or show
    it, make it private or public (a public group admits its pending requests)."""
    group = _managed(session, actor, slug)
    if name is not None and name.strip() != group.name:
        if group.system:
            raise bad_request("not-allowed-to-rename-system-group")
        new_name, old_name = check_group_name(session, name), group.name
        session.execute(
            update(Group)
            .where(Group.name == old_name)
            .values(name=new_name, slug=slugify(new_name))
        )
        # Members, requests and invitations follow by ON UPDATE CASCADE; grants name it.
        session.execute(
            update(CategoryPrivilege)
            .where(CategoryPrivilege.group_name == old_name)
            .values(group_name=new_name)
        )
        session.expire_all()
        group = get_group(session, slugify(new_name), for_update=True)
    if description is not None:
        group.description = description.strip()
    if hidden is not None:
        group.hidden = hidden
    if private is not None:
        if group.private and not private:
            pending = session.scalars(
                select(GroupRequest.uid).where(GroupRequest.group_name == group.name)
            )
            for uid in list(pending):
                _admit(session, group.name, uid)
        group.private = private
    session.flush()
    session.refresh(group)
    return group_data(group)


def group_data(group: Group) -> dict[str, object]:
    """The group object NodeBB's ``Groups.create`` returns (booleans as 0/1)."""
    return {
        "name": group.name,
        "slug": group.slug,
        "createtime": group.createtime,
        "userTitle": group.name,
        "userTitleEnabled": 0,
        "description": group.description,
        "memberCount": group.member_count,
        "hidden": int(group.hidden),
        "system": int(group.system),
        "private": int(group.private),
        "disableJoinRequests": 0,
        "disableLeave": 0,
    }

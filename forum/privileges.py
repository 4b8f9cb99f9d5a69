"""Who may do what: administrators, groups and per-category privileges.

Grants live in ``category_privileges`` (cid 0 holds global ones). ``registered-users``
is implicit for every uid > 0, so millions of imported users need no membership rows.
"""

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from forum.errors import forbidden
from forum.models import CategoryPrivilege, GroupMember

ADMINISTRATORS = "administrators"
GLOBAL_MODERATORS = "Global Moderators"
REGISTERED_USERS = "registered-users"
GUESTS = "guests"
SPIDERS = "spiders"
SYSTEM_GROUPS = (ADMINISTRATORS, GLOBAL_MODERATORS, REGISTERED_USERS, GUESTS, SPIDERS)

MEMBER_PRIVILEGES = (
    "find", "read", "topics:read", "topics:create", "topics:reply", "topics:crosspost",
    "topics:tag", "posts:edit", "posts:history", "posts:delete", "posts:upvote",
    "posts:downvote", "topics:delete",
)  # fmt: skip
MODERATOR_PRIVILEGES = (*MEMBER_PRIVILEGES, "topics:schedule", "posts:view_deleted", "purge")
GUEST_PRIVILEGES = ("find", "read", "topics:read")

DEFAULT_GRANTS: dict[str, tuple[str, ...]] = {
    REGISTERED_USERS: MEMBER_PRIVILEGES,
    ADMINISTRATORS: MODERATOR_PRIVILEGES,
    GLOBAL_MODERATORS: MODERATOR_PRIVILEGES,
    GUESTS: GUEST_PRIVILEGES,
    SPIDERS: GUEST_PRIVILEGES,
}


def is_admin(session: Session, uid: int | None) -> bool:
    if not uid:
        return False
    query = select(exists().where(GroupMember.group_name == ADMINISTRATORS, GroupMember.uid == uid))
    return bool(session.scalar(query))


def require_admin(session: Session, actor: int | None) -> None:
    """``actor`` None is the operator (CLI, offline import): trusted."""
    if actor is not None and not is_admin(session, actor):
        raise forbidden("no-privileges")


def implicit_groups(uid: int) -> list[str]:
    return [REGISTERED_USERS] if uid > 0 else [GUESTS]


def has(session: Session, uid: int, privilege: str, cid: int) -> bool:
    """Does ``uid`` hold ``privilege`` on category ``cid`` (by a group or directly)?"""
    member_of = select(GroupMember.group_name).where(GroupMember.uid == uid)
    query = select(
        exists().where(
            CategoryPrivilege.cid == cid,
            CategoryPrivilege.privilege == privilege,
            or_(
                CategoryPrivilege.uid == uid,
                CategoryPrivilege.group_name.in_(implicit_groups(uid)),
                CategoryPrivilege.group_name.in_(member_of),
            ),
        )
    )
    return bool(session.scalar(query))


def default_grants(cid: int) -> list[dict[str, object]]:
    return [
        {"cid": cid, "privilege": privilege, "group_name": group, "uid": None}
        for group, privileges in DEFAULT_GRANTS.items()
        for privilege in privileges
    ]

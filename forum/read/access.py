"""Who is reading, and what they may see: NodeBB's read privileges for one caller.

A ``Viewer`` is loaded once per request (two statements for a user, one for a guest)
and answers every privilege question of the page from memory. As in NodeBB, a banned
user leaves the system groups for ``banned-users``, which holds no privilege unless
an administrator granted one."""

from dataclasses import dataclass, field

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from forum import privileges
from forum.models import CategoryPrivilege, GroupMember, User
from forum.users import is_banned

BANNED_USERS = "banned-users"
GUEST = 0


@dataclass(frozen=True)
class Viewer:
    uid: int = GUEST
    admin: bool = False
    global_moderator: bool = False
    banned: bool = False
    groups: frozenset[str] = frozenset()
    # (cid, privilege) pairs held, by a group or directly; cid 0 holds global ones.
    grants: frozenset[tuple[int, str]] = field(default_factory=frozenset)

    @property
    def logged_in(self) -> bool:
        return self.uid > 0

    def can(self, privilege: str, cid: int) -> bool:
        return self.admin or (cid, privilege) in self.grants

    def moderates(self, cid: int) -> bool:
        """NodeBB's isAdminOrMod for a category."""
        return self.admin or self.global_moderator or (cid, "moderate") in self.grants

    def sees_deleted(self, cid: int) -> bool:
        """``view_deleted``: deleted topics and posts shown as they are."""
        return self.moderates(cid) or self.can("posts:view_deleted", cid)

    def finds(self, cid: int) -> bool:
        return self.can("find", cid)

    def reads(self, cid: int) -> bool:
        """May open the category and its topics (``read`` and ``topics:read``)."""
        return self.can("read", cid) and self.can("topics:read", cid)

    def sees_topic(self, cid: int, deleted: bool) -> bool:
        return self.reads(cid) and (not deleted or self.sees_deleted(cid))


# Built once, of plain columns: every read asks them.
_USERS, _MEMBERS, _GRANTS = User.__table__, GroupMember.__table__, CategoryPrivilege.__table__
_USER_GROUPS = (
    select(_USERS.c.uid, _USERS.c.banned, _USERS.c.banned_until, _MEMBERS.c.group_name)
    .outerjoin(_MEMBERS, _MEMBERS.c.uid == _USERS.c.uid)
    .where(_USERS.c.uid == bindparam("uid"))
)
_GROUP_GRANTS = select(_GRANTS.c.cid, _GRANTS.c.privilege).where(
    _GRANTS.c.group_name.in_(bindparam("groups", expanding=True))
)
_USER_GRANTS = select(_GRANTS.c.cid, _GRANTS.c.privilege).where(
    or_(_GRANTS.c.group_name.in_(bindparam("groups", expanding=True)),
        _GRANTS.c.uid == bindparam("uid"))
)  # fmt: skip


def load_viewer(session: Session, uid: int) -> Viewer:
    """The caller ``uid`` (0: a guest), with every category grant that applies to them."""
    if uid <= 0:
        return Viewer(GUEST, groups=frozenset([privileges.GUESTS]),
                      grants=_grants(session, GUEST, {privileges.GUESTS}))  # fmt: skip
    rows = session.execute(_USER_GROUPS, {"uid": uid}).all()
    if not rows:
        return load_viewer(session, GUEST)
    banned = is_banned(rows[0])  # type: ignore[arg-type]  # the columns it reads
    member_of = {row.group_name for row in rows if row.group_name is not None}
    if banned:
        groups = {g for g in member_of if g not in privileges.SYSTEM_GROUPS} | {BANNED_USERS}
    else:
        groups = member_of | set(privileges.implicit_groups(uid))
    return Viewer(
        uid=uid,
        admin=privileges.ADMINISTRATORS in groups,
        global_moderator=privileges.GLOBAL_MODERATORS in groups,
        banned=banned,
        groups=frozenset(groups),
        grants=_grants(session, uid, groups),
    )


def _grants(session: Session, uid: int, groups: set[str]) -> frozenset[tuple[int, str]]:
    params = {"groups": sorted(groups), "uid": uid}
    rows = session.execute(_USER_GRANTS if uid > 0 else _GROUP_GRANTS, params)
    return frozenset((cid, privilege) for cid, privilege in rows)

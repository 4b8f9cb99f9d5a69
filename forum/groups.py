"""Groups: the system groups and membership."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum.clock import now_ms
from forum.models import Group, GroupMember
from forum.privileges import SYSTEM_GROUPS
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

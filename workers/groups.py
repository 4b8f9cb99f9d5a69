from sqlalchemy.orm import Session

from forum import groups
from schemas.groups import (
    AddGroupMember,
    CreateGroup,
    DeleteGroup,
    JoinGroup,
    LeaveGroup,
    RemoveGroupMember,
)
from workers.registry import handles

Payload = dict[str, object]


@handles(CreateGroup)
def apply_create_group(session: Session, actor: int, command: CreateGroup) -> Payload:
    return groups.create_group(
        session, actor, command.name, description=command.description, hidden=command.hidden,
        private=command.private, owner_uid=command.owner_uid,
    )  # fmt: skip


@handles(DeleteGroup)
def apply_delete_group(session: Session, actor: int, command: DeleteGroup) -> Payload:
    return groups.delete_group(session, actor, command.slug)


@handles(JoinGroup)
def apply_join_group(session: Session, actor: int, command: JoinGroup) -> Payload:
    return groups.join_group(session, actor, command.slug)


@handles(LeaveGroup)
def apply_leave_group(session: Session, actor: int, command: LeaveGroup) -> Payload:
    return groups.leave_group(session, actor, command.slug)


@handles(AddGroupMember)
def apply_add_member(session: Session, actor: int, command: AddGroupMember) -> Payload:
    return groups.add_group_member(session, actor, command.slug, command.uid)


@handles(RemoveGroupMember)
def apply_remove_member(session: Session, actor: int, command: RemoveGroupMember) -> Payload:
    return groups.remove_group_member(session, actor, command.slug, command.uid)

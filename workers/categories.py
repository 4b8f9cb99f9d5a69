from sqlalchemy.orm import Session

from forum import categories
from schemas.categories import (
    CreateCategory,
    DisableCategory,
    EnableCategory,
    GrantPrivileges,
    PurgeCategory,
    RevokePrivileges,
    UpdateCategory,
)
from workers.registry import handles

Payload = dict[str, object]


@handles(CreateCategory)
def apply_create_category(session: Session, actor: int, command: CreateCategory) -> Payload:
    category = categories.create_category(
        session, actor, command.name, description=command.description,
        parent_cid=command.parent_cid, order=command.order, bg_color=command.bg_color,
        color=command.color, icon=command.icon, css_class=command.css_class,
    )  # fmt: skip
    return categories.category_data(category)


@handles(UpdateCategory)
def apply_update(session: Session, actor: int, command: UpdateCategory) -> Payload:
    return categories.update_category(
        session, actor, command.cid, name=command.name, description=command.description,
        bg_color=command.bg_color, color=command.color, parent_cid=command.parent_cid,
        background_image=command.background_image, order=command.order, icon=command.icon,
        css_class=command.css_class,
    )  # fmt: skip


@handles(PurgeCategory)
def apply_purge(session: Session, actor: int, command: PurgeCategory) -> Payload:
    return categories.purge_category(session, actor, command.cid)


@handles(EnableCategory)
def apply_enable(session: Session, actor: int, command: EnableCategory) -> Payload:
    return categories.set_disabled(session, actor, command.cid, False)


@handles(DisableCategory)
def apply_disable(session: Session, actor: int, command: DisableCategory) -> Payload:
    return categories.set_disabled(session, actor, command.cid, True)


@handles(GrantPrivileges)
def apply_grant(session: Session, actor: int, command: GrantPrivileges) -> Payload:
    return categories.set_privileges(
        session, actor, command.cid, command.privileges, command.groups, grant=True
    )


@handles(RevokePrivileges)
def apply_revoke(session: Session, actor: int, command: RevokePrivileges) -> Payload:
    return categories.set_privileges(
        session, actor, command.cid, command.privileges, command.groups, grant=False
    )

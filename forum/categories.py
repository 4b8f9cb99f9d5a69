"""Categories: creation (with NodeBB's default privileges), update, purge,
enable/disable, and privilege grants. All of it is for admins only."""

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from forum.errors import bad_request, not_found
from forum.models import Category, CategoryPrivilege, CategoryWatch, Group, User
from forum.posts import purge_topics
from forum.privileges import (
    CATEGORY_PRIVILEGES,
    GLOBAL_PRIVILEGES,
    GROUP_PREFIX,
    SYSTEM_GROUPS,
    default_grants,
    require_admin,
)
from forum.text import slugify


def create_category(
    session: Session,
    actor: int | None,
    name: str,
    *,
    description: str = "",
    parent_cid: int = 0,
    order: int | None = None,
    bg_color: str | None = None,
    color: str | None = None,
    icon: str | None = None,
    css_class: str | None = None,
) -> Category:
    require_admin(session, actor)
    name = name.strip()
    if not name:
        raise bad_request("invalid-data")
    if parent_cid and session.get(Category, parent_cid) is None:
        raise bad_request("no-category")
    if order is None:
        order = (session.scalar(select(func.max(Category.order))) or 0) + 1
    category = Category(
        name=name, slug="", description=description, parent_cid=parent_cid, order=order,
        bg_color=bg_color or "#86C1B9", color=color or "#ffffff", icon=icon or "fa-comments",
        css_class=css_class or "col-md-3 col-6", topic_count=0, post_count=0, disabled=False,
    )  # fmt: skip
    session.add(category)
    session.flush()
    category.slug = f"{category.cid}/{slugify(name)}"
    session.execute(insert(CategoryPrivilege), default_grants(category.cid))
    return category


def category_data(category: Category) -> dict[str, object]:
    return {
        "cid": category.cid,
        "name": category.name,
        "description": category.description,
        "slug": category.slug,
        "parentCid": category.parent_cid,
        "order": category.order,
        "bgColor": category.bg_color,
        "color": category.color,
        "icon": category.icon,
        "class": category.css_class,
        "topic_count": category.topic_count,
        "post_count": category.post_count,
        "disabled": int(category.disabled),
    }


def _category(session: Session, cid: int) -> Category:
    category = session.get(Category, cid, with_for_update=True)
    if category is None:
        raise not_found("no-category")
    return category


def _descendants(session: Session, cid: int) -> set[int]:
    found: set[int] = set()
    level = {cid}
    while level:
        level = set(session.scalars(select(Category.cid).where(Category.parent_cid.in_(level))))
        level -= found
        found |= level
    return found


def update_category(
    session: Session,
    actor: int | None,
    cid: int,
    *,
    name: str | None = None,
    description: str | None = None,
    bg_color: str | None = None,
    color: str | None = None,
    parent_cid: int | None = None,
    background_image: str | None = None,
    order: int | None = None,
    icon: str | None = None,
    css_class: str | None = None,
) -> dict[str, object]:
    """Set the given fields (None: unchanged). The API admits only these fields, so an
    update can never touch counters, slugs or ids (no mass assignment)."""
    require_admin(session, actor)
    category = _category(session, cid)
    if name is not None:
        name = name.strip()
        if not name:
            raise bad_request("invalid-data")
        category.name = name
        category.slug = f"{cid}/{slugify(name)}"
    if parent_cid is not None and parent_cid != category.parent_cid:
        if parent_cid == cid:
            raise bad_request("cant-set-self-as-parent")
        if parent_cid and session.get(Category, parent_cid) is None:
            raise bad_request("no-category")
        if parent_cid in _descendants(session, cid):
            raise bad_request("cant-set-child-as-parent")
        category.parent_cid = parent_cid
    simple = {
        "description": description, "bg_color": bg_color, "color": color, "order": order,
        "icon": icon, "css_class": css_class, "background_image": background_image,
    }  # fmt: skip
    for field, value in simple.items():
        if value is not None:
            setattr(category, field, value)
    session.flush()
    return category_data(category)  # as core answers: the category, updated


def purge_category(session: Session, actor: int | None, cid: int) -> dict[str, object]:
    """Remove the category with all its topics and posts (users' counters follow);
    its children move to the top level, as NodeBB's ``removeFromParent`` does."""
    require_admin(session, actor)
    _category(session, cid)
    purge_topics(session, lambda t: t.cid == cid)
    session.execute(update(Category).where(Category.parent_cid == cid).values(parent_cid=0))
    session.execute(delete(CategoryPrivilege).where(CategoryPrivilege.cid == cid))
    session.execute(delete(CategoryWatch).where(CategoryWatch.cid == cid))
    session.execute(delete(Category).where(Category.cid == cid))
    session.expire_all()
    return {}


def set_disabled(
    session: Session, actor: int | None, cid: int, disabled: bool
) -> dict[str, object]:
    require_admin(session, actor)
    category = _category(session, cid)
    category.disabled = disabled
    session.flush()
    return {}


def _grant_rows(
    session: Session, cid: int, names: Sequence[str], members: Sequence[str]
) -> list[dict[str, object]]:
    """One row for every privilege and member. ``groups:<privilege>`` names a group grant whose
    members are group names; a bare privilege is a user grant whose members are uids."""
    allowed = GLOBAL_PRIVILEGES if cid == 0 else CATEGORY_PRIVILEGES
    rows: list[dict[str, object]] = []
    for name in names:
        for_groups = name.startswith(GROUP_PREFIX)
        privilege = name.removeprefix(GROUP_PREFIX)
        if privilege not in allowed:
            raise bad_request("invalid-privilege", name)
        for member in members:
            if for_groups:
                known = member in SYSTEM_GROUPS or session.get(Group, member) is not None
                if not known:
                    raise bad_request("no-group", member)
                rows.append({"cid": cid, "privilege": privilege, "group_name": member, "uid": None})
                continue
            if not (member.isascii() and member.isdigit()) or not 0 < int(member) < 2**63:
                raise bad_request("invalid-uid", member)
            if session.get(User, int(member)) is None:
                raise bad_request("no-user", member)
            rows.append(
                {"cid": cid, "privilege": privilege, "group_name": None, "uid": int(member)}
            )
    return rows


def _same_grant(row: dict[str, object]) -> tuple[ColumnElement[bool], ...]:
    if row["uid"] is None:
        member = (
            CategoryPrivilege.group_name == row["group_name"],
            CategoryPrivilege.uid.is_(None),
        )
    else:
        member = (CategoryPrivilege.uid == row["uid"], CategoryPrivilege.group_name.is_(None))
    return (CategoryPrivilege.cid == row["cid"], CategoryPrivilege.privilege == row["privilege"],
            *member)  # fmt: skip


def set_privileges(
    session: Session,
    actor: int | None,
    cid: int,
    names: Sequence[str],
    members: Sequence[str],
    *,
    grant: bool,
) -> dict[str, object]:
    """Grant (or revoke) each of ``names`` to (from) each of ``members`` on ``cid``
    (0: the global privileges, which have no category to check). Granting twice or
    revoking what was never granted changes nothing."""
    require_admin(session, actor)
    if cid != 0:
        _category(session, cid)
    for row in _grant_rows(session, cid, names, members):
        present = session.scalar(select(CategoryPrivilege.id).where(*_same_grant(row)))
        if grant and present is None:
            session.execute(insert(CategoryPrivilege), [row])
        elif not grant and present is not None:
            session.execute(delete(CategoryPrivilege).where(CategoryPrivilege.id == present))
    return {}

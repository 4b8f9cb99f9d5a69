"""Categories: creation, with NodeBB's default privileges."""

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from forum.errors import bad_request
from forum.models import Category, CategoryPrivilege
from forum.privileges import default_grants, require_admin
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

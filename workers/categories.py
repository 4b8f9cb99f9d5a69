from sqlalchemy.orm import Session

from forum.categories import category_data, create_category
from schemas.categories import CreateCategory
from workers.registry import handles


@handles(CreateCategory)
def apply_create_category(
    session: Session, actor: int, command: CreateCategory
) -> dict[str, object]:
    category = create_category(
        session, actor, command.name, description=command.description,
        parent_cid=command.parent_cid, order=command.order, bg_color=command.bg_color,
        color=command.color, icon=command.icon, css_class=command.css_class,
    )  # fmt: skip
    return category_data(category)

"""``forum.categories.create_category``: rows, slug and NodeBB's default privileges."""

import pytest
from sqlalchemy import select

from forum.categories import category_data, create_category
from forum.db import transaction
from forum.errors import ErrorClass, ForumError
from forum.models import Category, CategoryPrivilege
from forum.privileges import (
    ADMINISTRATORS,
    GUEST_PRIVILEGES,
    GUESTS,
    MEMBER_PRIVILEGES,
    REGISTERED_USERS,
    has,
)
from tests.support import new_category, new_user, unique


def test_category_row_slug_and_payload(db_url: str) -> None:
    admin = new_user(db_url, admin=True)
    name = unique("Announcements & News ")
    with transaction(db_url) as session:
        category = create_category(session, admin, name, description="All the news")
        data = category_data(category)
    assert data["name"] == name and data["description"] == "All the news"
    assert data["slug"] == f"{data['cid']}/{name.lower().replace(' & ', '-').replace(' ', '-')}"
    assert data["topic_count"] == 0 and data["post_count"] == 0 and data["disabled"] == 0
    with transaction(db_url) as session:
        assert session.get(Category, data["cid"]) is not None


def test_default_privileges_rows(db_url: str) -> None:
    cid = new_category(db_url)
    member = new_user(db_url)
    with transaction(db_url) as session:
        rows = session.execute(
            select(CategoryPrivilege.group_name, CategoryPrivilege.privilege).where(
                CategoryPrivilege.cid == cid
            )
        ).all()
        granted: dict[str, set[str]] = {}
        for group, privilege in rows:
            granted.setdefault(group, set()).add(privilege)
        assert granted[REGISTERED_USERS] == set(MEMBER_PRIVILEGES)
        assert granted[GUESTS] == set(GUEST_PRIVILEGES)
        assert "purge" in granted[ADMINISTRATORS]
        # registered-users is implicit: a fresh user can post there without a membership row.
        assert has(session, member, "topics:create", cid)
        assert not has(session, member, "purge", cid)
        assert not has(session, 0, "topics:create", cid)


def test_order_follows_the_last_category(db_url: str) -> None:
    first, second = new_category(db_url), new_category(db_url)
    with transaction(db_url) as session:
        assert session.get(Category, second).order > session.get(Category, first).order


def test_non_admin_and_bad_input_are_refused(db_url: str) -> None:
    regular = new_user(db_url)
    name = unique("Nope ")
    cases = [
        (regular, name, {}, ("no-privileges", ErrorClass.FORBIDDEN)),
        (None, "   ", {}, ("invalid-data", ErrorClass.BAD_REQUEST)),
        (None, name, {"parent_cid": 987654321}, ("no-category", ErrorClass.BAD_REQUEST)),
    ]
    for actor, title, extra, expected in cases:
        with pytest.raises(ForumError) as caught, transaction(db_url) as session:
            create_category(session, actor, title, **extra)  # type: ignore[arg-type]
        assert (caught.value.key, caught.value.error_class) == expected
    with transaction(db_url) as session:
        assert session.scalar(select(Category).where(Category.name == name)) is None

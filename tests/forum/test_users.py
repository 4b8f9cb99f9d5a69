"""``forum.users``: NodeBB's account rules (creation, e-mail), checked against the actor."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from forum.db import session_factory, transaction
from forum.errors import ErrorClass, ForumError
from forum.models import GroupMember, User
from forum.passwords import hash_like, hash_password, verify_password
from forum.privileges import ADMINISTRATORS, is_admin
from forum.users import change_password, create_user, password_hash_of, update_profile
from tests.support import commit_once_blocked, new_user, unique


def _create(url: str, username: str, actor: int | None = None, **kwargs: object) -> User:
    with transaction(url) as session:
        return create_user(session, actor, username, **kwargs)  # type: ignore[arg-type]


def _refused(url: str, username: str, actor: int | None = None, **kwargs: object) -> ForumError:
    with pytest.raises(ForumError) as caught:
        _create(url, username, actor, **kwargs)
    return caught.value


def _users_named(url: str, prefix: str) -> int:
    with transaction(url) as session:
        return session.scalar(
            select(func.count()).select_from(User).where(User.username.startswith(prefix))
        )


def test_user_row_and_hashed_password(db_url: str) -> None:
    name = unique("Alice ")
    user = _create(db_url, name, password="correct horse", email=f"{unique()}@example.com")
    with transaction(db_url) as session:
        row = session.get(User, user.uid)
        assert row is not None
        assert row.username == name and row.userslug == name.lower().replace(" ", "-")
        assert row.postcount == 0 and row.topiccount == 0 and row.lastposttime == 0
        assert row.password_hash and "correct horse" not in row.password_hash
        assert verify_password("correct horse", row.password_hash)
        assert not verify_password("wrong horse", row.password_hash)
        assert not is_admin(session, user.uid)


def test_taken_username_gets_nodebb_suffix(db_url: str) -> None:
    # NodeBB's uniqueUsername: " 0", " 1", ... (base 32), compared by slug.
    name = unique("Bob")
    first = _create(db_url, name)
    second = _create(db_url, name.upper())
    third = _create(db_url, name)
    assert first.username == name
    assert second.username == f"{name.upper()} 0"
    assert third.username == f"{name} 1"
    assert len({first.userslug, second.userslug, third.userslug}) == 3


@pytest.mark.parametrize("email", ["no-at-sign", "a@b.c,d@e.f", "a@b.c;x"])
def test_invalid_email_is_refused(db_url: str, email: str) -> None:
    name = unique()
    error = _refused(db_url, name, email=email)
    assert (error.key, error.error_class) == ("invalid-email", ErrorClass.BAD_REQUEST)
    assert _users_named(db_url, name) == 0


def test_empty_email_and_password_mean_none(db_url: str) -> None:
    # NodeBB checks ``if (userData.email)`` / ``if (userData.password)``: a blank form
    # field is no email and no password, not an invalid one.
    user = _create(db_url, unique(), email="", password="")
    assert user.email is None and user.password_hash is None


def test_email_taken_in_any_case_and_kept_as_given(db_url: str) -> None:
    email = f"{unique('Mixed.')}@Example.COM"
    user = _create(db_url, unique(), email=email)
    name = unique()
    assert _refused(db_url, name, email=email).key == "email-taken"
    # NodeBB keys emails in lower case: another case is the same address.
    assert _refused(db_url, name, email=email.upper()).key == "email-taken"
    assert _refused(db_url, name, email=f" {email.lower()} ").key == "email-taken"
    assert _users_named(db_url, name) == 0
    with transaction(db_url) as session:
        assert session.get(User, user.uid).email == email  # type: ignore[union-attr]


def _edit_email(url: str, uid: int, email: str) -> None:
    with transaction(url) as session:
        update_profile(session, uid, uid, {"email": email})


def _email_of(url: str, uid: int) -> str | None:
    with transaction(url) as session:
        return session.get(User, uid).email  # type: ignore[union-attr]


def test_email_edit_refuses_another_users_address_in_any_case(db_url: str) -> None:
    taken = f"{unique('Taken.')}@example.com"
    _create(db_url, unique(), email=taken)
    uid = new_user(db_url)
    for email in (taken, taken.swapcase()):
        with pytest.raises(ForumError) as caught:
            _edit_email(db_url, uid, email)
        assert caught.value.key == "email-taken"
    assert _email_of(db_url, uid) is None
    # Their own address in another case is theirs to write, stored as given.
    own = f"{unique('own.')}@example.com"
    _edit_email(db_url, uid, own)
    _edit_email(db_url, uid, own.upper())
    assert _email_of(db_url, uid) == own.upper()


@pytest.mark.parametrize("write", ["create", "edit"])
def test_a_concurrent_write_of_the_address_in_another_case_is_email_taken(
    pg_url: str, write: str
) -> None:
    """Both writes pass the check (neither sees the other's uncommitted row); the index
    makes the second wait for the first and then refuses it: email-taken, not a crash,
    and the second's transaction goes on (a queued job records its failure in it)."""
    email = f"{unique('Race.')}@example.com"
    editor, after = new_user(pg_url), unique("after")

    def second_write() -> ForumError:
        with transaction(pg_url) as session:
            with pytest.raises(ForumError) as caught:
                if write == "create":
                    create_user(session, None, unique(), email=email.upper())
                else:
                    update_profile(session, editor, editor, {"email": email.upper()})
            create_user(session, None, after)
        return caught.value

    first = session_factory(pg_url)()
    try:
        create_user(first, None, unique(), email=email)  # flushed, not committed
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(second_write)
            commit_once_blocked(first, pg_url)
            refused = second.result(timeout=30)
    finally:
        first.close()
    assert (refused.key, refused.error_class) == ("email-taken", ErrorClass.BAD_REQUEST)
    with transaction(pg_url) as session:
        holders = select(func.count()).where(func.lower(User.email) == email.lower())
        assert session.scalar(holders) == 1
    assert _email_of(pg_url, editor) is None
    assert _users_named(pg_url, after) == 1


@pytest.mark.parametrize(
    ("password", "key"), [("short", "password-too-short"), ("x" * 513, "password-too-long")]
)
def test_password_rules(db_url: str, password: str, key: str) -> None:
    name = unique()
    assert _refused(db_url, name, password=password).key == key
    assert _users_named(db_url, name) == 0


@pytest.mark.parametrize("username", ["", "   ", "bad<name>", "a/b", ".."])
def test_invalid_username(db_url: str, username: str) -> None:
    assert _refused(db_url, username).key == "invalid-username"


def test_admin_flag_joins_administrators(db_url: str) -> None:
    user = _create(db_url, unique(), admin=True)
    with transaction(db_url) as session:
        assert is_admin(session, user.uid)
        member = session.scalar(
            select(GroupMember).where(
                GroupMember.group_name == ADMINISTRATORS, GroupMember.uid == user.uid
            )
        )
        assert member is not None


def test_only_admins_create_users(db_url: str) -> None:
    admin = new_user(db_url, admin=True)
    regular = new_user(db_url)
    made_by_admin = _create(db_url, unique(), actor=admin)
    assert made_by_admin.uid > 0
    name = unique()
    error = _refused(db_url, name, actor=regular)
    assert (error.key, error.error_class) == ("no-privileges", ErrorClass.FORBIDDEN)
    assert _users_named(db_url, name) == 0


def test_the_domain_decides_whether_the_current_password_was_right(db_url: str) -> None:
    """The API sends the current password hashed with the stored salt; the domain
    compares it with the hash stored when the change applies (one changed meanwhile
    makes it wrong)."""
    owner = new_user(db_url, password="old-password")
    admin = new_user(db_url, admin=True)

    def change(actor: int, new: str, current: str | None) -> None:
        with transaction(db_url) as session:
            stored = password_hash_of(session, owner)
            current_hash = hash_like(current, stored) if current is not None else None
            change_password(session, actor, owner, hash_password(new), current_hash)

    with pytest.raises(ForumError, match="change-password-error-wrong-current"):
        change(owner, "new-password", "not-the-password")
    with pytest.raises(ForumError, match="change-password-error-wrong-current"):
        change(owner, "new-password", None)
    with transaction(db_url) as session:
        stale = hash_like("old-password", password_hash_of(session, owner))
    change(owner, "new-password", "old-password")
    with (
        pytest.raises(ForumError, match="change-password-error-wrong-current"),
        transaction(db_url) as session,
    ):
        change_password(session, owner, owner, hash_password("another"), stale)
    change(admin, "reset-by-admin", None)  # admins need no current password
    with transaction(db_url) as session:
        assert verify_password("reset-by-admin", password_hash_of(session, owner))

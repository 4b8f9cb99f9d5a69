"""Users: creation and the checks every poster goes through."""

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.clock import iso, now_ms
from forum.errors import bad_request, not_found
from forum.groups import add_member, ensure_system_groups
from forum.models import User
from forum.passwords import hash_password
from forum.privileges import ADMINISTRATORS, require_admin
from forum.text import slugify
from forumq.settings import get_settings

# NodeBB's allowed username characters (src/utils.js isUserNameValid).
_USERNAME = re.compile(r"^['\" \-+.*\[\]0-9\u00BF-\u1FFF\u2C00-\uD7FF\w]+$")
MAX_PASSWORD_LENGTH = 512


def _unique_username(session: Session, username: str) -> tuple[str, str]:
    """A taken username gets " <n in base 32>" appended, n from 0, as NodeBB's
    uniqueUsername does ("bob", "bob 0", "bob 1", ... "bob a")."""
    candidate, n = username, 0
    while True:
        slug = slugify(candidate)
        if not session.scalar(select(func.count()).where(User.userslug == slug)):
            return candidate, slug
        candidate = f"{username} {_base32(n)}"
        n += 1


def _base32(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuv"
    text = digits[n % 32]
    while n >= 32:
        n //= 32
        text = digits[n % 32] + text
    return text


def check_password(password: str) -> None:
    if len(password) < get_settings().minimum_password_length:
        raise bad_request("password-too-short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise bad_request("password-too-long")


def create_user(
    session: Session,
    actor: int | None,
    username: str,
    *,
    password: str | None = None,
    email: str | None = None,
    timestamp: int | None = None,
    admin: bool = False,
) -> User:
    """Create an account (admins only). ``actor`` None is the operator (CLI)."""
    require_admin(session, actor)
    username = username.strip()
    if not _USERNAME.match(username) or not slugify(username):
        raise bad_request("invalid-username")
    email = (email or "").strip() or None  # NodeBB: a blank email is no email
    if email is not None:
        if "@" not in email or "," in email or ";" in email:
            raise bad_request("invalid-email")
        # NodeBB keys addresses in lower case (email:uid).
        if session.scalar(select(func.count()).where(func.lower(User.email) == email.lower())):
            raise bad_request("email-taken")
    if password:  # a blank password is no password, as NodeBB's ``if (userData.password)``
        check_password(password)
    ensure_system_groups(session)
    username, slug = _unique_username(session, username)
    joined = timestamp or now_ms()
    user = User(
        username=username, userslug=slug, email=email or None,
        password_hash=hash_password(password) if password else None,
        joindate=joined, lastonline=joined, lastposttime=0, postcount=0, topiccount=0,
        reputation=0, banned=False, profile={},
    )  # fmt: skip
    session.add(user)
    session.flush()
    if admin:
        add_member(session, ADMINISTRATORS, user.uid)
    return user


def get_poster(session: Session, uid: int) -> User:
    """The acting user of a post: must exist and not be banned."""
    user = session.get(User, uid)
    if user is None:
        raise not_found("no-user")
    if user.banned:
        raise bad_request("user-banned")
    return user


def user_data(user: User) -> dict[str, object]:
    return {
        "uid": user.uid,
        "username": user.username,
        "userslug": user.userslug,
        "joindate": user.joindate,
        "joindateISO": iso(user.joindate),
        "postcount": user.postcount,
        "topiccount": user.topiccount,
        "reputation": user.reputation,
        "lastposttime": user.lastposttime,
        "banned": int(user.banned),
    }

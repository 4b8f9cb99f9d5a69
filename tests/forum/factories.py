"""Rows a test needs, made through the forum functions (the operator's path, like the CLI)."""

import uuid

from forum import tokens
from forum.db import transaction
from forum.users import create_user


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def user_with_token(
    database_url: str, *, admin: bool = False, password: str | None = None
) -> tuple[int, str]:
    """A new user and a token of theirs: ``(uid, secret)``."""
    with transaction(database_url) as session:
        uid = create_user(session, None, unique(), password=password, admin=admin).uid
        return uid, tokens.issue_user_token(session, uid)

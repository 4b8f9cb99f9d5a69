"""Bans: permanent, or until a time (NodeBB's ``User.bans``). Admins only."""

from sqlalchemy.orm import Session

from forum.clock import now_ms
from forum.errors import bad_request
from forum.privileges import is_admin, require_admin
from forum.users import get_user

MAX_REASON_LENGTH = 1000


def ban(
    session: Session, actor: int, uid: int, *, until: int | None = None, reason: str = ""
) -> dict[str, object]:
    """``until`` is a ms timestamp; 0 or None bans for good."""
    require_admin(session, actor)
    user = get_user(session, uid, for_update=True)
    if is_admin(session, uid):
        raise bad_request("cant-ban-other-admins")
    if until and until <= now_ms():
        raise bad_request("ban-expiry-missing")
    if len(reason) > MAX_REASON_LENGTH:
        raise bad_request("reason-too-long", MAX_REASON_LENGTH)
    user.banned, user.banned_until, user.ban_reason = True, until or 0, reason.strip()
    return {}


def unban(session: Session, actor: int, uid: int) -> dict[str, object]:
    require_admin(session, actor)
    user = get_user(session, uid, for_update=True)
    user.banned, user.banned_until, user.ban_reason = False, 0, ""
    return {}

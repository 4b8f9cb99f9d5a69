"""Bans (NodeBB's ``User.bans``; admins only) and mutes (``usersAPI.mute``; the global
``mute`` privilege): permanent, or until a time."""

from sqlalchemy.orm import Session

from forum.clock import now_ms
from forum.errors import bad_request, forbidden
from forum.privileges import GLOBAL_MODERATORS, has, in_group, is_admin, require_admin
from forum.users import get_user

MAX_REASON_LENGTH = 1000


def ban(
    session: Session, actor: int, uid: int, *, until: int | None = None, reason: str = ""
) -> dict[str, object]:
    """``until`` is a ms timestamp; 0, None or a time already past bans for good, as
    NodeBB's ``User.bans.ban`` does (``expire: until > now ? until : 0``)."""
    require_admin(session, actor)
    user = get_user(session, uid, for_update=True)
    if is_admin(session, uid):
        raise bad_request("cant-ban-other-admins")
    if len(reason) > MAX_REASON_LENGTH:
        raise bad_request("reason-too-long", MAX_REASON_LENGTH)
    expiry = until if until and until > now_ms() else 0
    user.banned, user.banned_until, user.ban_reason = True, expiry, reason.strip()
    return {}


def unban(session: Session, actor: int, uid: int) -> dict[str, object]:
    require_admin(session, actor)
    user = get_user(session, uid, for_update=True)
    user.banned, user.banned_until, user.ban_reason = False, 0, ""
    return {}


def _require_mute_privilege(session: Session, actor: int) -> None:
    """``privileges.users.hasMutePrivilege``: admins, Global Moderators (who hold it by
    default in NodeBB) and whoever is granted the global ``mute``."""
    allowed = (
        is_admin(session, actor)
        or in_group(session, actor, GLOBAL_MODERATORS)
        or has(session, actor, "mute", 0)
    )
    if not allowed:
        raise forbidden("no-privileges")


def mute(
    session: Session, actor: int, uid: int, *, until: int | None = None, reason: str = ""
) -> dict[str, object]:
    """``until`` is a ms timestamp; 0 or None mutes for good. A muted user may not post
    or chat (``forum.users.check_muted``); admins cannot be muted."""
    user = get_user(session, uid, for_update=True)  # core asserts the user first: 404
    _require_mute_privilege(session, actor)
    if is_admin(session, uid):
        raise bad_request("cant-mute-other-admins")
    if len(reason) > MAX_REASON_LENGTH:
        raise bad_request("reason-too-long", MAX_REASON_LENGTH)
    user.muted, user.muted_until = True, until or 0
    user.muted_reason = reason.strip() or "[[user:info.muted-no-reason]]"
    return {}


def unmute(
    session: Session, actor: int, uid: int, *, reason: str | None = None
) -> dict[str, object]:
    """``reason`` is NodeBB's unmute log's, which forumq does not keep."""
    user = get_user(session, uid, for_update=True)
    _require_mute_privilege(session, actor)
    user.muted, user.muted_until, user.muted_reason = False, 0, ""
    return {}

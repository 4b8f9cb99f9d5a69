"""Category watch states (NodeBB's ``cid:<cid>:uid:watch:state``): a user watches,
tracks, does not watch or ignores a category. Tracked (the forum's default,
``categoryWatchState``) and watched categories' topics are in the user's unread list;
an ignored category's topics also leave the recent, popular and top lists. A topic the
user follows is unread whatever its category's state."""

from collections.abc import Iterable

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from forum.errors import forbidden, not_found
from forum.models import Category, CategoryWatch, Topic
from forum.privileges import GLOBAL_MODERATORS, in_group, is_admin
from forum.users import get_user

STATES = {"ignoring": 1, "notwatching": 2, "tracking": 3, "watching": 4}
IGNORING, NOTWATCHING, TRACKING, WATCHING = 1, 2, 3, 4
DEFAULT = TRACKING  # install/data/defaults.json: categoryWatchState


def _with_children(session: Session, cid: int) -> list[int]:
    """``cid`` and every category below it, in NodeBB's order: repeatedly the first
    category (by ``order``, then cid) whose parent is already listed."""
    rows = session.execute(
        select(Category.cid, Category.parent_cid).order_by(Category.order, Category.cid)
    ).all()
    found, listed = [cid], {cid}
    while True:
        child = next((c for c, parent in rows if c not in listed and parent in listed), None)
        if child is None:
            return found
        found.append(child)
        listed.add(child)


def set_watch_state(
    session: Session, actor: int, cid: int, state: str | None = None, uid: int | None = None
) -> dict[str, object]:
    """Core's ``PUT /categories/{cid}/watch`` (``state``) and ``DELETE`` (no ``state``:
    the default): for ``uid`` (the caller's own, or anyone's for admins and global
    moderators), on the category and all its descendants. Answers the cids changed."""
    get_user(session, actor)
    if session.get(Category, cid) is None:
        raise not_found("no-category")
    target = uid or actor
    if target != actor and not (
        is_admin(session, actor) or in_group(session, actor, GLOBAL_MODERATORS)
    ):
        raise forbidden()
    get_user(session, target)
    cids = _with_children(session, cid)
    value = DEFAULT if state is None else STATES[state]
    # No row means the default: a reset leaves none behind.
    session.execute(
        delete(CategoryWatch).where(CategoryWatch.uid == target, CategoryWatch.cid.in_(cids))
    )
    if value != DEFAULT:
        session.add_all(CategoryWatch(cid=c, uid=target, state=value) for c in cids)
    session.flush()
    return {"modified": [str(c) for c in cids]}


def states(session: Session, uid: int, cids: Iterable[int]) -> dict[int, int]:
    """``uid``'s state of each of ``cids`` (the default where none is set)."""
    wanted = list(cids)
    found = dict(
        session.execute(
            select(CategoryWatch.cid, CategoryWatch.state).where(
                CategoryWatch.uid == uid, CategoryWatch.cid.in_(wanted)
            )
        ).all()
    )
    return {cid: found.get(cid, DEFAULT) for cid in wanted}


def in_states(uid: int, wanted: Iterable[int]) -> ColumnElement[bool]:
    """A topic-level clause: ``Topic.cid`` is one of ``uid``'s categories in ``wanted``."""
    chosen = select(CategoryWatch.cid).where(
        CategoryWatch.uid == uid, CategoryWatch.state.in_(list(wanted))
    )
    return Topic.cid.in_(chosen)


def flags(state: int) -> dict[str, bool]:
    """A category page's ``isWatched``, ``isTracked``, ``isNotWatched``, ``isIgnored``."""
    return {"isWatched": state == WATCHING, "isTracked": state == TRACKING,
            "isNotWatched": state == NOTWATCHING, "isIgnored": state == IGNORING}  # fmt: skip

"""Batch loads: every related row of a page in one statement per kind (no query per row)."""

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from forum.models import (
    Bookmark,
    Category,
    Post,
    PostVote,
    TopicFollow,
    TopicIgnore,
    TopicTag,
    User,
)
from forum.read import objects
from forum.read.objects import JSON


def users(session: Session, uids: Iterable[int], now: int) -> dict[int, JSON]:
    """uid -> its summary; a uid without a row (a deleted user) shows as a guest."""
    wanted = {uid for uid in uids if uid > 0}
    found = {}
    if wanted:
        found = {u.uid: u for u in session.scalars(select(User).where(User.uid.in_(wanted)))}
    return {uid: objects.user_summary(found.get(uid), now) for uid in wanted | {0}}


_CATEGORIES = "forumq.read.categories"


def categories(session: Session) -> dict[int, Category]:
    """Every category (a forum has tens; pages need their names, parents and flags),
    loaded once per read session (one request)."""
    found: dict[int, Category] | None = session.info.get(_CATEGORIES)
    if found is None:
        found = session.info[_CATEGORIES] = {c.cid: c for c in session.scalars(select(Category))}
    return found


def enabled_cids(session: Session) -> list[int]:
    return [cid for cid, category in categories(session).items() if not category.disabled]


def tags(session: Session, tids: Iterable[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    wanted = set(tids)
    if wanted:
        rows = session.execute(
            select(TopicTag.tid, TopicTag.tag)
            .where(TopicTag.tid.in_(wanted))
            .order_by(TopicTag.tag)
        )
        for tid, tag in rows:
            found[tid].append(tag)
    return found


def posts(session: Session, pids: Iterable[int]) -> dict[int, Post]:
    wanted = {pid for pid in pids if pid}
    if not wanted:
        return {}
    return {p.pid: p for p in session.scalars(select(Post).where(Post.pid.in_(wanted)))}


def votes(session: Session, uid: int, pids: Iterable[int]) -> dict[int, int]:
    """pid -> the caller's vote (+1 / -1) on it."""
    wanted = set(pids)
    if uid <= 0 or not wanted:
        return {}
    rows = session.execute(
        select(PostVote.pid, PostVote.value).where(PostVote.uid == uid, PostVote.pid.in_(wanted))
    )
    return {pid: value for pid, value in rows}


def bookmarked(session: Session, uid: int, pids: Iterable[int]) -> set[int]:
    wanted = set(pids)
    if uid <= 0 or not wanted:
        return set()
    query = select(Bookmark.pid).where(Bookmark.uid == uid, Bookmark.pid.in_(wanted))
    return set(session.scalars(query))


def watching(session: Session, uid: int, tids: Iterable[int]) -> tuple[set[int], set[int]]:
    """Of ``tids``: those ``uid`` follows, and those they ignore (one statement)."""
    wanted = set(tids)
    if uid <= 0 or not wanted:
        return set(), set()
    follows = select(TopicFollow.tid, literal(True)).where(
        TopicFollow.uid == uid, TopicFollow.tid.in_(wanted)
    )
    ignores = select(TopicIgnore.tid, literal(False)).where(
        TopicIgnore.uid == uid, TopicIgnore.tid.in_(wanted)
    )
    rows = session.execute(union_all(follows, ignores)).all()
    return {tid for tid, follow in rows if follow}, {tid for tid, follow in rows if not follow}

"""Batch loads: every related row of a page in one statement per kind (no query per row)."""

from collections import defaultdict, namedtuple
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, Select, bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from forum.models import (
    Bookmark,
    Category,
    Post,
    PostVote,
    TopicFollow,
    TopicIgnore,
    TopicTag,
    TopicThumb,
    User,
)
from forum.read import objects
from forum.read.objects import JSON

# What ``objects.user_summary`` reads of a user: plain columns (no ORM objects, no
# secrets), in a statement built once.
SUMMARY_COLUMN_NAMES = (
    "uid", "username", "userslug", "lastonline", "joindate", "postcount", "topiccount",
    "reputation", "banned", "banned_until", "profile",
)  # fmt: skip
SUMMARY_COLUMNS = tuple(User.__table__.c[name] for name in SUMMARY_COLUMN_NAMES)
_USERS = select(*SUMMARY_COLUMNS).where(User.__table__.c.uid.in_(bindparam("uids", expanding=True)))


def users(session: Session, uids: Iterable[int], now: int) -> dict[int, JSON]:
    """uid -> its summary; a uid without a row (a deleted user) shows as a guest."""
    wanted = {uid for uid in uids if uid > 0}
    found: dict[int, Row[Any]] = {}
    if wanted:
        found = {u.uid: u for u in session.execute(_USERS, {"uids": sorted(wanted)})}
    return {uid: objects.user_summary(found.get(uid), now) for uid in wanted | {0}}


class Joined:
    """The columns of a joined table within a statement's rows, labelled
    ``<prefix><name>`` and side by side, read as a row of their own (a named tuple with
    the table's names: what ``objects`` reads of a model). Found once per statement."""

    def __init__(self, statement: Select[Any], prefix: str) -> None:
        keys = [column.key for column in statement.selected_columns]
        at = [n for n, key in enumerate(keys) if key.startswith(prefix)]
        assert at == list(range(at[0], at[-1] + 1)), f"{prefix} columns not side by side"
        self._columns = slice(at[0], at[-1] + 1)
        self._type = namedtuple(  # type: ignore[misc]
            "Joined", [keys[n].removeprefix(prefix) for n in at], rename=True
        )

    def __call__(self, row: Row[Any]) -> Any:
        return self._type._make(row[self._columns])


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


def thumbs(session: Session, tids: Iterable[int]) -> dict[int, list[JSON]]:
    """tid -> its thumbnails in order (``topics.thumbs.load``), for those that have any."""
    found: dict[int, list[JSON]] = {}
    query = select(TopicThumb).where(TopicThumb.tid.in_(list(tids)))
    for row in session.scalars(query.order_by(TopicThumb.tid, TopicThumb.position)):
        found.setdefault(row.tid, []).append(
            {"id": str(row.tid), "name": row.name, "path": row.path, "url": row.url}
        )
    return found


def with_thumbs(data: JSON, found: dict[int, list[JSON]]) -> JSON:
    """A topic object with its ``thumbs`` and ``numThumbs``."""
    listed = found.get(data["tid"], [])
    data.update(thumbs=listed, numThumbs=len(listed))
    return data

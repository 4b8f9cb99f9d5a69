"""Per-user read markers: which topics have news for a user (NodeBB's ``tids_read``).

A topic is unread for a user when it moved within NodeBB's unread cutoff (2 days) and
either they marked it unread, or its latest post is not theirs (posting reads a topic
in NodeBB) and they have not read it since that post. A user reads a topic by opening
its page (``record_view``, after the page is answered) or by core's ``PUT
/topics/{tid}/read``; ``DELETE`` marks it unread. The rule is here once, in SQL for the
lists (``unread_clause``) and in Python for a list's ``unread`` flags (``is_unread``)."""

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forum.errors import not_found
from forum.models import Post, Topic, TopicRead
from forum.users import get_user

DAY_MS = 86_400_000
UNREAD_CUTOFF_DAYS = 2  # meta.config.unreadCutoff
# read_at of a topic its reader marked unread: below any post's time.
UNREAD_MARK = -1


def cutoff(now: int) -> int:
    return now - UNREAD_CUTOFF_DAYS * DAY_MS


def _upsert(session: Session, uid: int, tid: int, read_at: int, *, forward_only: bool) -> None:
    """One statement. ``forward_only``: an older reading never replaces a newer one
    (concurrent page views of one user land in any order)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(TopicRead).values(uid=uid, tid=tid, read_at=read_at)
    newer = insert.excluded.read_at > TopicRead.read_at if forward_only else None
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[TopicRead.uid, TopicRead.tid],
            set_={"read_at": insert.excluded.read_at},
            where=newer,
        )
    )


def _topic(session: Session, tid: int) -> Topic:
    """Core's ``assert.topic``: a topic that exists (any caller may mark it)."""
    topic = session.get(Topic, tid)
    if topic is None:
        raise not_found("no-topic")
    return topic


def record_view(session: Session, uid: int, tid: int, seen: int) -> None:
    """``uid`` opened the topic's page and saw it as of ``seen`` (its lastposttime): a
    post after that keeps it unread. A topic purged meanwhile is left alone."""
    if session.get(Topic, tid) is not None:
        _upsert(session, uid, tid, seen, forward_only=True)


def mark_read(session: Session, actor: int, tid: int) -> dict[str, object]:
    """Core's ``PUT /topics/{tid}/read`` (``Topics.markAsRead``)."""
    get_user(session, actor)
    topic = _topic(session, tid)
    _upsert(session, actor, tid, topic.lastposttime, forward_only=False)
    return {}


def mark_unread(session: Session, actor: int, tid: int) -> dict[str, object]:
    """Core's ``DELETE /topics/{tid}/read`` (``Topics.markUnread``)."""
    get_user(session, actor)
    _topic(session, tid)
    _upsert(session, actor, tid, UNREAD_MARK, forward_only=False)
    return {}


def unread_clause(uid: int, now: int) -> ColumnElement[bool]:
    """A WHERE clause on ``Topic``: the topic is unread for ``uid`` (a guest: none)."""
    if uid <= 0:
        return false()
    marker = (
        select(TopicRead.read_at)
        .where(TopicRead.uid == uid, TopicRead.tid == Topic.tid)
        .scalar_subquery()
    )
    latest = func.coalesce(Topic.teaser_pid, Topic.main_pid)
    latest_poster = select(Post.uid).where(Post.pid == latest).scalar_subquery()
    return and_(
        Topic.lastposttime > cutoff(now),
        or_(
            marker == UNREAD_MARK,
            and_(
                func.coalesce(latest_poster, 0) != uid,
                func.coalesce(marker, UNREAD_MARK - 1) < Topic.lastposttime,
            ),
        ),
    )


def is_unread(topic: Topic, latest_poster: int | None, read_at: int | None, uid: int,
              now: int) -> bool:  # fmt: skip
    """``unread_clause`` for one loaded topic (``latest_poster``: its teaser's author)."""
    if uid <= 0 or topic.lastposttime <= cutoff(now):
        return False
    if read_at == UNREAD_MARK:
        return True
    return (latest_poster or 0) != uid and (read_at is None or read_at < topic.lastposttime)


def markers(session: Session, uid: int, tids: list[int]) -> dict[int, int]:
    """tid -> ``uid``'s read_at, for the topics of a list (one statement; none for a guest)."""
    if uid <= 0 or not tids:
        return {}
    rows = session.execute(
        select(TopicRead.tid, TopicRead.read_at).where(
            TopicRead.uid == uid, TopicRead.tid.in_(tids)
        )
    )
    return {tid: read_at for tid, read_at in rows}

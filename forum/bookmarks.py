"""Bookmarks (NodeBB's ``posts.bookmark`` / ``unbookmark``): a row per user and post,
and the post's ``bookmarks`` counter."""

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from forum import privileges
from forum.clock import now_ms
from forum.errors import bad_request
from forum.models import Bookmark, Post
from forum.posts import post_with_topic
from forum.users import get_poster


def bookmark(session: Session, actor: int, pid: int) -> dict[str, object]:
    return _set_bookmark(session, actor, pid, True)


def unbookmark(session: Session, actor: int, pid: int) -> dict[str, object]:
    return _set_bookmark(session, actor, pid, False)


def _set_bookmark(session: Session, actor: int, pid: int, wanted: bool) -> dict[str, object]:
    get_poster(session, actor)
    post, topic = post_with_topic(session, pid)
    readable = privileges.is_admin(session, actor) or privileges.has(
        session, actor, "topics:read", topic.cid
    )
    if not readable:
        raise bad_request("no-privileges")
    has_it = session.get(Bookmark, (pid, actor)) is not None
    if wanted and has_it:
        raise bad_request("already-bookmarked")
    if not wanted and not has_it:
        raise bad_request("already-unbookmarked")
    if wanted:
        session.add(Bookmark(pid=pid, uid=actor, created_at=now_ms()))
        session.flush()
    else:
        session.execute(delete(Bookmark).where(Bookmark.pid == pid, Bookmark.uid == actor))
    step = 1 if wanted else -1
    session.execute(update(Post).where(Post.pid == pid).values(bookmarks=Post.bookmarks + step))
    session.refresh(post)
    return {
        "post": {"pid": post.pid, "uid": post.uid, "bookmarks": post.bookmarks},
        "isBookmarked": wanted,
    }

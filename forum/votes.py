"""Votes on posts (NodeBB's ``posts.upvote`` / ``downvote`` / ``unvote``).

One row per voter and post in ``post_votes`` (+1 or -1). A vote moves the post's
``upvotes``/``downvotes`` (mirrored on the topic when it is the main post) and the
author's reputation by the difference between the new and the previous vote, so
voting twice the same way changes nothing and switching sides moves reputation by 2.
"""

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from forum import privileges
from forum.clock import now_ms
from forum.errors import bad_request
from forum.models import Post, PostVote, Topic, User
from forum.posts import post_with_topic
from forum.users import get_poster

UP, NONE, DOWN = 1, 0, -1


def direction(delta: float) -> int:
    """The plugin's ``delta``: > 0 upvote, < 0 downvote, 0 unvote."""
    return UP if delta > 0 else DOWN if delta < 0 else NONE


def vote(session: Session, actor: int, pid: int, delta: float) -> dict[str, object]:
    return _set_vote(session, actor, pid, direction(delta))


def unvote(session: Session, actor: int, pid: int) -> dict[str, object]:
    return _set_vote(session, actor, pid, NONE)


def _set_vote(session: Session, actor: int, pid: int, value: int) -> dict[str, object]:
    get_poster(session, actor)
    post, topic = post_with_topic(session, pid)
    if post.deleted:
        raise bad_request("post-deleted")
    if post.uid == actor:
        raise bad_request("self-vote")
    if value != NONE:
        needed = "posts:upvote" if value == UP else "posts:downvote"
        allowed = privileges.is_admin(session, actor) or privileges.has(
            session, actor, needed, topic.cid
        )
        if not allowed:
            raise bad_request("no-privileges")
    row = session.get(PostVote, (pid, actor))
    previous = row.value if row is not None else NONE
    if value != previous:
        _record(session, row, pid, actor, value)
        ups = int(value == UP) - int(previous == UP)
        downs = int(value == DOWN) - int(previous == DOWN)
        session.execute(
            update(Post)
            .where(Post.pid == pid)
            .values(upvotes=Post.upvotes + ups, downvotes=Post.downvotes + downs)
        )
        if topic.main_pid == pid:
            session.execute(
                update(Topic)
                .where(Topic.tid == topic.tid)
                .values(upvotes=Topic.upvotes + ups, downvotes=Topic.downvotes + downs)
            )
        session.execute(
            update(User)
            .where(User.uid == post.uid)
            .values(reputation=User.reputation + (value - previous))
        )
        session.refresh(post)
    reputation = session.scalar(select(User.reputation).where(User.uid == post.uid))
    return {
        "user": {"reputation": reputation},
        "fromuid": actor,
        "post": {
            "pid": post.pid,
            "uid": post.uid,
            "tid": post.tid,
            "upvotes": post.upvotes,
            "downvotes": post.downvotes,
            "votes": post.upvotes - post.downvotes,
        },
        "upvote": value == UP,
        "downvote": value == DOWN,
    }


def _record(session: Session, row: PostVote | None, pid: int, uid: int, value: int) -> None:
    if value == NONE:
        session.execute(delete(PostVote).where(PostVote.pid == pid, PostVote.uid == uid))
    elif row is None:
        session.add(PostVote(pid=pid, uid=uid, value=value, created_at=now_ms()))
    else:
        row.value = value
    session.flush()

"""Posts: the step topic creation and replies share (NodeBB's ``Posts.create``).

Counters are updated with SQL expressions, so concurrent workers never lose an
increment; "latest" fields only move forward, so imported (older) posts keep the
forum's times right.
"""

from sqlalchemy import case, exists, select, update
from sqlalchemy.orm import Session

from forum.clock import iso
from forum.models import Category, Post, Topic, User


def _later(column, timestamp: int):  # type: ignore[no-untyped-def]
    return case((column < timestamp, timestamp), else_=column)


def add_post(
    session: Session,
    topic: Topic,
    uid: int,
    content: str,
    timestamp: int,
    *,
    to_pid: int | None = None,
) -> Post:
    is_main = not topic.main_pid
    new_poster = is_main or not session.scalar(
        select(exists().where(Post.tid == topic.tid, Post.uid == uid))
    )
    post = Post(
        tid=topic.tid, uid=uid, content=content.rstrip(), timestamp=timestamp, to_pid=to_pid,
        edited=0, deleted=False, upvotes=0, downvotes=0, replies=0,
    )  # fmt: skip
    session.add(post)
    session.flush()

    topic_values: dict[str, object] = {
        "postcount": Topic.postcount + 1,
        "lastposttime": _later(Topic.lastposttime, timestamp),
        "postercount": Topic.postercount + int(new_poster),
    }
    if is_main:
        topic_values["main_pid"] = post.pid
    else:
        # The teaser is the latest undeleted reply, never the main post.
        topic_values["teaser_pid"] = case(
            (Topic.lastposttime <= timestamp, post.pid), else_=Topic.teaser_pid
        )
    session.execute(update(Topic).where(Topic.tid == topic.tid).values(topic_values))
    session.execute(
        update(Category).where(Category.cid == topic.cid).values(post_count=Category.post_count + 1)
    )
    session.execute(
        update(User)
        .where(User.uid == uid)
        .values(postcount=User.postcount + 1, lastposttime=_later(User.lastposttime, timestamp))
    )
    if to_pid is not None:
        session.execute(update(Post).where(Post.pid == to_pid).values(replies=Post.replies + 1))
    session.refresh(topic)
    return post


def post_data(post: Post, topic: Topic | None = None) -> dict[str, object]:
    data: dict[str, object] = {
        "pid": post.pid,
        "uid": post.uid,
        "tid": post.tid,
        "content": post.content,
        "timestamp": post.timestamp,
        "timestampISO": iso(post.timestamp),
        "toPid": post.to_pid,
        "deleted": int(post.deleted),
        "upvotes": post.upvotes,
        "downvotes": post.downvotes,
        "votes": post.upvotes - post.downvotes,
        "replies": post.replies,
        "edited": post.edited,
        "editedISO": iso(post.edited),
    }
    if topic is not None:
        data["cid"] = topic.cid
        data["isMain"] = topic.main_pid == post.pid
        data["index"] = topic.postcount - 1
    return data

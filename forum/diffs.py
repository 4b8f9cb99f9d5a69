"""A post's edit history (NodeBB's ``Posts.diffs``, ``enablePostHistory`` on).

Each edit that changes the content, or the main post's title or tags, keeps the version
it replaced (``PostDiff``), whole rather than as a patch: the version as of an edit's
timestamp is the one the next edit replaced, or the post as it is. ``since`` = the
post's own timestamp names the version as first posted, as in NodeBB."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum import privileges
from forum.errors import bad_request, forbidden, not_found
from forum.models import Post, PostDiff, Topic, TopicTag, User


@dataclass(frozen=True)
class Version:
    content: str
    title: str
    tags: list[str]


def record(
    session: Session,
    post: Post,
    editor: int,
    old_content: str,
    now: int,
    *,
    old_title: str | None = None,
    old_tags: list[str] | None = None,
) -> None:
    """Keep the version an edit replaces. ``old_title`` / ``old_tags``: only when the
    edit renamed or retagged the topic. Two edits of one post in the same millisecond
    get distinct timestamps (the later one a millisecond on)."""
    last = session.scalar(select(func.max(PostDiff.timestamp)).where(PostDiff.pid == post.pid))
    stamp = max(now, (last or 0) + 1, post.timestamp + 1)
    tags = ",".join(old_tags) if old_tags is not None else None
    session.add(PostDiff(pid=post.pid, timestamp=stamp, uid=editor, content=old_content,
                         title=old_title, tags=tags))  # fmt: skip


def timestamp_of(raw: str) -> int:
    """A version's timestamp from the path (``getValidatedTimestamp``): digits, else
    core's ``invalid-data``. Checked after the caller's privilege, as in core."""
    if not (raw.isascii() and raw.isdigit()) or int(raw) >= 2**53:
        raise bad_request("invalid-data")
    return int(raw)


def _rows(session: Session, pid: int, after: int | None = None) -> list[PostDiff]:
    query = select(PostDiff).where(PostDiff.pid == pid)
    if after is not None:
        query = query.where(PostDiff.timestamp > after)
    return list(session.scalars(query.order_by(PostDiff.timestamp)))


def version_at(session: Session, post: Post, topic: Topic, since: int) -> Version:
    """The post (and, for a main post, its topic's title and tags) as of ``since``."""
    later = _rows(session, post.pid, since)
    content = later[0].content if later else post.content
    title = next((row.title for row in later if row.title is not None), topic.title)
    tags_row = next((row.tags for row in later if row.tags is not None), None)
    if tags_row is None:
        tags = list(session.scalars(select(TopicTag.tag).where(TopicTag.tid == topic.tid)))
    else:
        tags = [tag for tag in tags_row.split(",") if tag]
    return Version(content, title, tags)


def history(session: Session, actor: int, post: Post, moderator: bool) -> dict[str, object]:
    """``api.posts.getDiffs``: the edits' timestamps, newest first, then the post's own;
    who made each version; whether ``actor`` (a ``moderator`` of the post's category or
    not) may restore (editable) or delete them."""
    rows = list(reversed(_rows(session, post.pid)))
    uids = [row.uid for row in rows] + [post.uid]
    names = dict(session.execute(select(User.uid, User.username).where(User.uid.in_(uids))).all())
    stamps = [str(row.timestamp) for row in rows] + [str(post.timestamp)]
    return {
        "uid": actor,
        "pid": post.pid,
        "timestamps": stamps,
        "revisions": [
            {"timestamp": stamp, "username": names.get(uid), "uid": uid}
            for stamp, uid in zip(stamps, uids, strict=True)
        ],
        "deletable": moderator,
        "editable": moderator or actor == post.uid,
    }


def _post_and_topic(session: Session, pid: int) -> tuple[Post, Topic]:
    post = session.get(Post, pid)
    if post is None:
        raise not_found("no-post")
    topic = session.get(Topic, post.tid, with_for_update=True)
    assert topic is not None  # posts.tid is a foreign key
    return post, topic


def delete_diff(session: Session, actor: int, pid: int, timestamp: str) -> dict[str, object]:
    """Core's ``DELETE /posts/{pid}/diffs/{timestamp}`` (admins and the category's
    moderators): the version of that timestamp leaves the history. The post's own
    timestamp drops the version first posted; the newest (the post as it is) cannot go.
    Answers the history as it is then."""
    post, topic = _post_and_topic(session, pid)
    moderator = privileges.is_admin_or_mod(session, actor, topic.cid)
    if not moderator:
        raise forbidden("no-privileges")
    stamp = timestamp_of(timestamp)
    rows = _rows(session, pid)
    stamps = [row.timestamp for row in rows]
    if stamp == post.timestamp:
        if rows:
            session.delete(rows[0])
    elif stamp not in stamps[:-1]:
        raise bad_request("invalid-data")
    else:
        # The version of ``stamp`` is what the next edit replaced: that edit now
        # replaced the version before, which the deleted row held.
        index = stamps.index(stamp)
        gone, following = rows[index], rows[index + 1]
        following.content = gone.content
        if gone.title is not None:
            following.title = gone.title
        if gone.tags is not None:
            following.tags = gone.tags
        session.delete(gone)
    session.flush()
    return history(session, actor, post, moderator)

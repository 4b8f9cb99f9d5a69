"""Posts as NodeBB shows them: ``Posts.getPostData`` (v3 ``/posts/:pid``), the post's
index, raw text, summary, voters and replies, post summaries for lists, and the path
``/api/post/:pid`` redirects to."""

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from forum import diffs
from forum.errors import forbidden, not_found
from forum.models import Category, Post, PostVote, Topic, User
from forum.read import loading, objects
from forum.read.access import Viewer
from forum.read.objects import JSON
from forum.read.pages import Redirect

UPVOTERS_CUTOFF = 6  # NodeBB's tooltip shows this many names, then "and N others"


def _post_in_topic(session: Session, pid: int) -> tuple[Post, Topic, Category] | None:
    row = session.execute(
        select(Post, Topic, Category)
        .join(Topic, Topic.tid == Post.tid)
        .join(Category, Category.cid == Topic.cid)
        .where(Post.pid == pid)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def readable_post(session: Session, viewer: Viewer, pid: int) -> tuple[Post, Topic, Category]:
    """The post, if ``viewer`` may read it (``read`` and ``topics:read`` on its category,
    not disabled), else 404 ``no-post`` as NodeBB's v3 answers."""
    found = _post_in_topic(session, pid)
    if found is None:
        raise not_found("no-post")
    post, topic, category = found
    if category.disabled or not viewer.reads(topic.cid):
        raise not_found("no-post")
    return post, topic, category


def _hides_content(viewer: Viewer, post: Post, topic: Topic) -> bool:
    return post.deleted and not (viewer.moderates(topic.cid) or post.uid == viewer.uid)


def post_get(session: Session, viewer: Viewer, pid: int) -> JSON:
    """``GET /api/v3/posts/:pid`` (and ``/api/post/pid/:pid``): ``api.posts.get``."""
    post, topic, _ = readable_post(session, viewer, pid)
    data = objects.post_fields(post)
    vote = loading.votes(session, viewer.uid, [pid]).get(pid, 0)
    data.update(upvoted=vote > 0, downvoted=vote < 0)
    if _hides_content(viewer, post, topic):
        data["content"] = objects.DELETED_POST
    return data


def post_index(session: Session, post: Post, topic: Topic) -> int:
    """The post's place in its topic: 0 for the main post, then replies oldest first."""
    if post.pid == topic.main_pid:
        return 0
    before = select(func.count()).where(
        Post.tid == topic.tid,
        Post.pid != topic.main_pid,
        or_(Post.timestamp < post.timestamp,
            and_(Post.timestamp == post.timestamp, Post.pid < post.pid)),
    )  # fmt: skip
    return int(session.scalar(before) or 0) + 1


def post_index_of(session: Session, viewer: Viewer, pid: int) -> JSON:
    post, topic, _ = readable_post(session, viewer, pid)
    return {"index": post_index(session, post, topic)}


def post_raw(session: Session, viewer: Viewer, pid: int) -> JSON:
    """``GET /api/v3/posts/:pid/raw``: the text as written; a deleted post only for its
    author and moderators."""
    post, topic, _ = readable_post(session, viewer, pid)
    if _hides_content(viewer, post, topic):
        raise not_found("no-post")
    return {"content": post.content}


def _history_of(session: Session, viewer: Viewer, pid: int) -> tuple[Post, Topic]:
    """The post, if ``viewer`` may see its edit history (``diffsPrivilegeCheck``:
    ``posts:history`` and ``topics:read``, and ``view_deleted`` for a deleted post)."""
    found = _post_in_topic(session, pid)
    if found is None:
        raise not_found("no-post")
    post, topic, _ = found
    allowed = (
        viewer.can("posts:history", topic.cid)
        and viewer.can("topics:read", topic.cid)
        and (not post.deleted or viewer.sees_deleted(topic.cid))
    )
    if not allowed:
        raise forbidden("no-privileges")
    return post, topic


def post_diffs(session: Session, viewer: Viewer, pid: int) -> JSON:
    """``GET /api/v3/posts/:pid/diffs``: the post's versions, newest first."""
    post, topic = _history_of(session, viewer, pid)
    return diffs.history(session, viewer.uid, post, viewer.moderates(topic.cid))


def post_diff(session: Session, viewer: Viewer, pid: int, since: str, now: int) -> JSON:
    """``GET /api/v3/posts/:pid/diffs/:since``: the post's summary as of ``since`` (its
    content, and its topic's title and tags)."""
    post, topic = _history_of(session, viewer, pid)
    version = diffs.version_at(session, post, topic, diffs.timestamp_of(since))
    category = session.get(Category, topic.cid)
    assert category is not None  # topics.cid is a foreign key
    authors = loading.users(session, {post.uid}, now)
    summary = _summary(post, topic, category, authors, version.tags)
    summary["content"] = objects.markdown(version.content)
    summary["topic"].update(title=objects.escape(version.title), titleRaw=version.title)
    return summary


def post_path(session: Session, viewer: Viewer, pid: int) -> None:
    """``/api/post/:pid``: where the post is (``/topic/<slug>/<index + 1>``); 403 when
    the viewer may not read it."""
    found = _post_in_topic(session, pid)
    if found is None or found[2].disabled:
        raise not_found("no-post")
    post, topic, _ = found
    if not viewer.reads(topic.cid):
        raise forbidden()
    raise Redirect(f"/topic/{topic.slug}/{post_index(session, post, topic) + 1}")


def post_summaries(session: Session, viewer: Viewer, pids: Sequence[int], now: int) -> list[JSON]:
    """``Posts.getPostSummaryByPids`` for the posts the viewer may see, in ``pids``
    order: a post of an unreadable category, or deleted (itself or its topic) and not
    theirs to see, is left out (``privileges.posts.filter``)."""
    if not pids:
        return []
    rows = session.execute(
        select(Post, Topic).join(Topic, Topic.tid == Post.tid).where(Post.pid.in_(list(pids)))
    ).all()
    found = {post.pid: (post, topic) for post, topic in rows}
    categories = loading.categories(session)
    authors = loading.users(session, {post.uid for post, _ in found.values()}, now)
    tags = loading.tags(session, {topic.tid for _, topic in found.values()})
    summaries = []
    for pid in pids:
        if pid not in found:
            continue
        post, topic = found[pid]
        category = categories.get(topic.cid)
        if category is None or category.disabled or not viewer.reads(topic.cid):
            continue
        deleted_seen = viewer.sees_deleted(topic.cid)
        if (topic.deleted or post.deleted) and not deleted_seen and post.uid != viewer.uid:
            continue
        summaries.append(_summary(post, topic, category, authors, tags.get(topic.tid, [])))
    return summaries


def _summary(
    post: Post, topic: Topic, category: Category, authors: dict[int, JSON], tags: list[str]
) -> JSON:
    fields = objects.topic_fields(topic, tags)
    return {
        "pid": post.pid,
        "tid": post.tid,
        "toPid": post.to_pid,
        "content": objects.markdown(post.content),
        "sourceContent": None,
        "uid": post.uid,
        "timestamp": post.timestamp,
        "timestampISO": objects.iso(post.timestamp),
        "deleted": post.deleted,
        "upvotes": post.upvotes,
        "downvotes": post.downvotes,
        "votes": post.upvotes - post.downvotes,
        "replies": post.replies,
        "isMainPost": post.pid == topic.main_pid,
        "url": f"/post/{post.pid}",
        "user": authors.get(post.uid) or authors[0],
        # teaserPid only once the topic has one (a hash field NodeBB never set is absent).
        "topic": {k: fields[k] for k in (
            "uid", "tid", "title", "titleRaw", "cid", "tags", "slug", "deleted", "scheduled",
            "postcount", "mainPid", "teaserPid", "timestamp") if fields[k] is not None},
        "category": objects.category_brief(category),
    }  # fmt: skip


def post_summary(session: Session, viewer: Viewer, pid: int, now: int) -> JSON:
    """``GET /api/v3/posts/:pid/summary``."""
    post, topic, _ = readable_post(session, viewer, pid)
    summary = post_summaries(session, viewer, [pid], now)
    if not summary:
        raise not_found("no-post")
    if _hides_content(viewer, post, topic):
        summary[0]["content"] = objects.DELETED_POST
    return summary[0]


def _voters(session: Session, pid: int, value: int) -> list[User]:
    query = (
        select(User).join(PostVote, PostVote.uid == User.uid)
        .where(PostVote.pid == pid, PostVote.value == value)
        .order_by(PostVote.created_at, User.uid)
    )  # fmt: skip
    return list(session.scalars(query))


def post_voters(session: Session, viewer: Viewer, pid: int, now: int) -> JSON:
    """``GET /api/v3/posts/:pid/voters``: upvoters for all; downvoters, as NodeBB's
    default ``downvoteVisibility`` ("privileged"), for moderators only."""
    _, topic, _ = readable_post(session, viewer, pid)
    show_down = viewer.moderates(topic.cid)
    up = _voters(session, pid, 1)
    down = _voters(session, pid, -1) if show_down else []
    return {
        "upvoteCount": len(up),
        "downvoteCount": len(down),
        "showUpvotes": True,
        "showDownvotes": show_down,
        "upvoters": [objects.user_summary(u, now) for u in up],
        "downvoters": [objects.user_summary(u, now) for u in down],
    }


def post_upvoters(session: Session, viewer: Viewer, pid: int) -> JSON:
    """``GET /api/v3/posts/:pid/upvoters``: the tooltip's names."""
    readable_post(session, viewer, pid)
    names = [u.username for u in _voters(session, pid, 1)]
    shown = names[:UPVOTERS_CUTOFF] if len(names) > UPVOTERS_CUTOFF + 1 else names
    return {"otherCount": len(names) - len(shown), "usernames": shown,
            "cutoff": UPVOTERS_CUTOFF}  # fmt: skip


def post_replies(session: Session, viewer: Viewer, pid: int, now: int) -> JSON:
    """``GET /api/v3/posts/:pid/replies``: the posts answering ``pid``, oldest first."""
    _, topic, _ = readable_post(session, viewer, pid)
    sees_deleted = viewer.sees_deleted(topic.cid)
    replies = list(
        session.scalars(select(Post).where(Post.to_pid == pid).order_by(Post.timestamp, Post.pid))
    )
    if not sees_deleted:
        replies = [p for p in replies if not p.deleted or p.uid == viewer.uid]
    authors = loading.users(session, {p.uid for p in replies}, now)
    votes = loading.votes(session, viewer.uid, [p.pid for p in replies])
    marked = loading.bookmarked(session, viewer.uid, [p.pid for p in replies])
    shown = []
    for p in replies:
        item = objects.post_object(
            p, index=0, author=authors.get(p.uid) or authors[0], viewer_uid=viewer.uid,
            sees_deleted=sees_deleted, vote=votes.get(p.pid, 0), bookmarked=p.pid in marked,
        )  # fmt: skip
        del item["index"]  # its place in the topic is not what this list is about
        shown.append(item)
    return {"replies": shown}

"""Posts: the step topic creation and replies share (NodeBB's ``Posts.create``), and
the life of a post after it: soft delete, restore and purge.

Counters are updated with SQL expressions, so concurrent workers never lose an
increment; "latest" fields only move forward, so imported (older) posts keep the
forum's times right.

How removed content counts (as NodeBB): a **soft delete** changes no counter (topic
postcount, category topic_count/post_count, user postcount/topiccount all keep it);
it only hides the post from the teaser and the topic's lastposttime. A **purge**
takes the content out of every counter: the topic's postcount and postercount, the
category's post_count (and topic_count for a topic), the authors' postcount (and
topiccount), the reply-to parent's ``replies``, and the reputation its votes gave.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, case, delete, distinct, exists, func, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from forum import privileges, topic_events
from forum.clock import iso, now_ms
from forum.errors import bad_request, forbidden, not_found
from forum.models import (
    Bookmark,
    Category,
    Post,
    PostDiff,
    PostVote,
    Topic,
    TopicFollow,
    TopicIgnore,
    TopicTag,
    User,
)
from forum.rules import NODEBB, Rules
from forum.users import get_poster

# Which rows a bulk removal covers, given the entity (or an alias of it) to filter.
Scope = Callable[[Any], ColumnElement[bool]]
# Bulk statements whose rows the session need not track (callers expire afterwards).
BULK = {"synchronize_session": False}


def _later(column, timestamp: int):  # type: ignore[no-untyped-def]
    return case((column < timestamp, timestamp), else_=column)


_TOPIC_TAIL = (Topic.postcount, Topic.lastposttime, Topic.postercount, Topic.main_pid,
               Topic.teaser_pid)  # fmt: skip


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
    post = Post(
        tid=topic.tid, uid=uid, content=content.rstrip(), timestamp=timestamp, to_pid=to_pid,
        edited=0, deleted=False, upvotes=0, downvotes=0, replies=0,
    )  # fmt: skip
    session.add(post)
    session.flush()

    # A new poster unless they posted in the topic before: asked inside the UPDATE
    # (one statement less per post); the caller holds the topic, so no post of
    # theirs can land between the two.
    posted_before = exists().where(Post.tid == topic.tid, Post.uid == uid, Post.pid != post.pid)
    topic_values: dict[str, object] = {
        "postcount": Topic.postcount + 1,
        "lastposttime": _later(Topic.lastposttime, timestamp),
        "postercount": Topic.postercount + (1 if is_main else case((posted_before, 0), else_=1)),
    }
    if is_main:
        topic_values["main_pid"] = post.pid
    else:
        # The teaser is the latest undeleted reply, never the main post.
        topic_values["teaser_pid"] = case(
            (Topic.lastposttime <= timestamp, post.pid), else_=Topic.teaser_pid
        )
    # RETURNING hands back the new counters: no SELECT to refresh the topic after.
    changed = session.execute(
        update(Topic)
        .where(Topic.tid == topic.tid)
        .values(topic_values)
        .returning(*_TOPIC_TAIL)
        .execution_options(synchronize_session=False)
    ).one()
    for column, value in zip(_TOPIC_TAIL, changed, strict=True):
        set_committed_value(topic, column.key, value)
    session.execute(
        update(Category).where(Category.cid == topic.cid).values(post_count=Category.post_count + 1)
    )
    session.execute(
        update(User)
        .where(User.uid == uid)
        .values(postcount=User.postcount + 1, lastposttime=_later(User.lastposttime, timestamp))
        .execution_options(synchronize_session=False)
    )
    # Only the two counters are stale: the author stays loaded (a batch of replies by
    # one user reads them once), the counters reload if read.
    author = session.identity_map.get(identity_key(User, uid))
    if author is not None:
        session.expire(author, ["postcount", "lastposttime"])
    if to_pid is not None:
        session.execute(update(Post).where(Post.pid == to_pid).values(replies=Post.replies + 1))
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


def post_with_topic(session: Session, pid: int) -> tuple[Post, Topic]:
    """The post and its topic, locked for the write; unknown pid: 404 ``no-post``.

    The topic is locked before the post, the order replies take (topic, then the
    reply-to parent), so the two never deadlock."""
    post = session.get(Post, pid)
    if post is None:
        raise not_found("no-post")
    topic = session.get(Topic, post.tid, with_for_update=True)
    assert topic is not None  # posts.tid is a foreign key
    session.refresh(post, with_for_update=True)
    return post, topic


def refresh_topic_tail(session: Session, tid: int) -> None:
    """Teaser = latest undeleted reply (never the main post); lastposttime = time of the
    latest undeleted post, kept as it is when every post is deleted (NodeBB's
    ``updateTeaser`` and ``updateLastPostTimeFromLastPid``)."""
    main_pid = select(Topic.main_pid).where(Topic.tid == tid).scalar_subquery()
    undeleted = (Post.tid == tid, Post.deleted.is_(False))
    teaser = session.scalar(
        select(Post.pid)
        .where(*undeleted, Post.pid != main_pid)
        .order_by(Post.timestamp.desc(), Post.pid.desc())
        .limit(1)
    )
    latest = session.scalar(select(func.max(Post.timestamp)).where(*undeleted))
    values: dict[str, object] = {"teaser_pid": teaser}
    if latest is not None:
        values["lastposttime"] = latest
    session.execute(update(Topic).where(Topic.tid == tid).values(values))


def set_topic_deleted(session: Session, actor: int, topic: Topic, deleted: bool) -> None:
    """Soft-delete or restore the topic, in its history too (a ``delete`` or ``restore``
    event)."""
    topic_events.record(session, topic.tid, "delete" if deleted else "restore", actor)
    session.execute(
        update(Topic)
        .where(Topic.tid == topic.tid)
        .values(
            deleted=deleted,
            deleter_uid=actor if deleted else 0,
            deleted_timestamp=now_ms() if deleted else 0,
        )
    )
    session.refresh(topic)


def remove_posts(session: Session, scope: Scope) -> None:
    """Delete the posts in ``scope`` and take them out of every counter outside their
    topics: authors' postcount and reputation, categories' post_count, the ``replies``
    of reply-to parents that stay. Their votes and bookmarks go with them."""
    p, parent, t = aliased(Post), aliased(Post), aliased(Topic)
    authors = select(p.uid).where(scope(p))
    own = (scope(p), p.uid == User.uid)
    session.execute(
        update(User)
        .where(User.uid.in_(authors))
        .values(
            postcount=User.postcount - select(func.count()).where(*own).scalar_subquery(),
            reputation=User.reputation
            - select(func.coalesce(func.sum(p.upvotes - p.downvotes), 0))
            .where(*own)
            .scalar_subquery(),
        )
        .execution_options(**BULK)
    )
    in_category = select(func.count()).select_from(p).join(t, t.tid == p.tid)
    session.execute(
        update(Category)
        .where(Category.cid.in_(select(t.cid).join(p, p.tid == t.tid).where(scope(p))))
        .values(
            post_count=Category.post_count
            - in_category.where(scope(p), t.cid == Category.cid).scalar_subquery()
        )
        .execution_options(**BULK)
    )
    replied = session.execute(
        select(p.to_pid, func.count())
        .where(
            scope(p),
            p.to_pid.is_not(None),
            p.to_pid.not_in(select(parent.pid).where(scope(parent))),
        )
        .group_by(p.to_pid)
    ).all()
    for to_pid, count in replied:
        session.execute(
            update(Post)
            .where(Post.pid == to_pid)
            .values(replies=Post.replies - count)
            .execution_options(**BULK)
        )
    doomed = select(p.pid).where(scope(p))
    session.execute(delete(PostVote).where(PostVote.pid.in_(doomed)).execution_options(**BULK))
    session.execute(delete(Bookmark).where(Bookmark.pid.in_(doomed)).execution_options(**BULK))
    session.execute(delete(PostDiff).where(PostDiff.pid.in_(doomed)).execution_options(**BULK))
    session.execute(delete(Post).where(scope(Post)).execution_options(**BULK))


def purge_topics(session: Session, scope: Scope) -> None:
    """Purge the topics in ``scope`` with all their posts, keeping every counter exact."""
    t = aliased(Topic)
    remove_posts(session, lambda p: p.tid.in_(select(t.tid).where(scope(t))))
    owned = (scope(t), t.uid == User.uid)
    session.execute(
        update(User)
        .where(User.uid.in_(select(t.uid).where(scope(t))))
        .values(topiccount=User.topiccount - select(func.count()).where(*owned).scalar_subquery())
        .execution_options(**BULK)
    )
    in_category = (scope(t), t.cid == Category.cid)
    session.execute(
        update(Category)
        .where(Category.cid.in_(select(t.cid).where(scope(t))))
        .values(
            topic_count=Category.topic_count
            - select(func.count()).where(*in_category).scalar_subquery()
        )
        .execution_options(**BULK)
    )
    tids = select(t.tid).where(scope(t))
    session.execute(delete(TopicFollow).where(TopicFollow.tid.in_(tids)).execution_options(**BULK))
    session.execute(delete(TopicIgnore).where(TopicIgnore.tid.in_(tids)).execution_options(**BULK))
    session.execute(delete(TopicTag).where(TopicTag.tid.in_(tids)).execution_options(**BULK))
    session.execute(delete(Topic).where(scope(Topic)).execution_options(**BULK))
    _forget_stale(session)


def _forget_stale(session: Session) -> None:
    # Bulk statements bypass the identity map: reload anything the session holds.
    session.flush()
    session.expire_all()


def _is_only_post(topic: Topic, post: Post) -> bool:
    return topic.main_pid == post.pid and topic.postcount == 1


def delete_post(
    session: Session, actor: int, pid: int, *, rules: Rules = NODEBB
) -> dict[str, object]:
    """Soft-delete a post (v1 ``DELETE /posts/:pid``, v2 ``DELETE /posts/:pid/state``).

    The only post of a topic takes its topic with it, as NodeBB does."""
    get_poster(session, actor)
    post, topic = post_with_topic(session, pid)
    privileges.require_post_delete(session, actor, post, topic, rules)
    if post.deleted:
        raise bad_request("post-already-deleted")
    with_topic = _is_only_post(topic, post) and not topic.deleted
    if with_topic:
        privileges.require_topic_delete(session, actor, topic, rules)
    _set_post_deleted(session, actor, post, True)
    if with_topic:
        set_topic_deleted(session, actor, topic, True)
    return {}


def restore_post(
    session: Session, actor: int, pid: int, *, rules: Rules = NODEBB
) -> dict[str, object]:
    get_poster(session, actor)
    post, topic = post_with_topic(session, pid)
    privileges.require_post_delete(session, actor, post, topic, rules)
    if not post.deleted:
        raise bad_request("post-already-restored")
    with_topic = _is_only_post(topic, post) and topic.deleted
    if with_topic:
        privileges.require_topic_delete(session, actor, topic, rules)
    _set_post_deleted(session, actor, post, False)
    if with_topic:
        set_topic_deleted(session, actor, topic, False)
    return {}


def _set_post_deleted(session: Session, actor: int, post: Post, deleted: bool) -> None:
    session.execute(
        update(Post)
        .where(Post.pid == post.pid)
        .values(deleted=deleted, deleter_uid=actor if deleted else 0)
    )
    refresh_topic_tail(session, post.tid)
    session.refresh(post)


def purge_post(session: Session, actor: int, pid: int) -> dict[str, object]:
    """Remove a post for good (v2 ``DELETE /posts/:pid``). A main post cannot go while
    its topic has replies; the only post of a topic takes its topic with it."""
    get_poster(session, actor)
    post, topic = post_with_topic(session, pid)
    privileges.require_purge(session, actor, post.uid, topic.cid)
    if topic.main_pid == post.pid:
        if topic.postcount > 1:
            raise bad_request("cant-purge-main-post")
        privileges.require_purge(session, actor, topic.uid, topic.cid)
        tid = topic.tid
        purge_topics(session, lambda t: t.tid == tid)
        return {}
    remove_posts(session, lambda p: p.pid == pid)
    posters = select(func.count(func.distinct(Post.uid))).where(Post.tid == topic.tid)
    session.execute(
        update(Topic)
        .where(Topic.tid == topic.tid)
        .values(postcount=Topic.postcount - 1, postercount=posters.scalar_subquery())
        .execution_options(**BULK)
    )
    refresh_topic_tail(session, topic.tid)
    _forget_stale(session)
    return {}


def _recount_posters(session: Session, tid: int) -> None:
    posters = select(func.count(distinct(Post.uid))).where(Post.tid == tid).scalar_subquery()
    session.execute(update(Topic).where(Topic.tid == tid).values(postercount=posters))


def move_post(session: Session, actor: int, pid: int, tid: int) -> dict[str, object]:
    """Core's ``PUT /posts/{pid}/move`` (``Topics.movePostToTopic``): a reply to another
    topic, by a moderator of both topics' categories or an admin. Both topics' counts,
    posters, teasers and last post times follow, and the categories' post counts."""
    get_poster(session, actor)
    post = session.get(Post, pid)
    if post is None:
        raise not_found("no-post")
    # Topics locked in id order, as concurrent moves and batches lock them.
    locked = {
        topic.tid: topic
        for topic in session.scalars(
            select(Topic).where(Topic.tid.in_({post.tid, tid})).order_by(Topic.tid)
            .with_for_update()
        )
    }  # fmt: skip
    post = session.scalars(
        select(Post).where(Post.pid == pid).with_for_update()
        .execution_options(populate_existing=True)
    ).first()  # fmt: skip
    if post is None:
        raise not_found("no-post")  # purged meanwhile
    if post.tid not in locked:  # moved meanwhile
        locked[post.tid] = _locked_topic(session, post.tid)
    source, target = locked[post.tid], locked.get(tid)
    if target is None:
        raise not_found("no-topic")
    for cid in {source.cid, target.cid}:
        privileges.require_admin_or_mod(session, actor, cid)
    if source.main_pid == pid:
        raise bad_request("cant-move-mainpost")
    if source.tid == target.tid:
        raise bad_request("cant-move-to-same-topic")
    post.tid = tid
    session.flush()
    for topic, change in ((source, -1), (target, 1)):
        session.execute(
            update(Topic).where(Topic.tid == topic.tid).values(postcount=Topic.postcount + change)
        )
        _recount_posters(session, topic.tid)
        refresh_topic_tail(session, topic.tid)
        if source.cid != target.cid:
            session.execute(
                update(Category)
                .where(Category.cid == topic.cid)
                .values(post_count=Category.post_count + change)
            )
    _forget_stale(session)
    return {}


def _locked_topic(session: Session, tid: int) -> Topic:
    topic = session.get(Topic, tid, with_for_update=True)
    assert topic is not None  # posts.tid is a foreign key
    return topic


def change_owner(session: Session, actor: int, pids: list[int], uid: int) -> dict[str, object]:
    """Core's ``POST /posts/owner`` (``Posts.changeOwner``): the posts become ``uid``'s,
    by an admin or a Global Moderator. Post counts, reputation (the posts' votes),
    topic ownership and counts (for main posts) and the topics' posters follow."""
    wanted = sorted(set(pids))
    # Core asserts the post (404) before the privilege (403), then the new owner.
    if session.scalar(select(func.count()).where(Post.pid.in_(wanted))) != len(wanted):
        raise not_found("no-post")
    if not (
        privileges.is_admin(session, actor)
        or privileges.in_group(session, actor, privileges.GLOBAL_MODERATORS)
    ):
        raise forbidden("no-privileges")
    if session.get(User, uid) is None:
        raise not_found("no-user")
    tids = sorted(set(session.scalars(select(Post.tid).where(Post.pid.in_(wanted)))))
    topics = {
        topic.tid: topic
        for topic in session.scalars(
            select(Topic).where(Topic.tid.in_(tids)).order_by(Topic.tid).with_for_update()
        )
    }
    found = list(
        session.scalars(
            select(Post).where(Post.pid.in_(wanted)).order_by(Post.pid).with_for_update()
        )
    )
    if len(found) != len(wanted):
        raise not_found("no-post")  # purged meanwhile
    for post in found:  # moved to another topic meanwhile: lock that one too
        if post.tid not in topics:
            topics[post.tid] = _locked_topic(session, post.tid)
    moved = [post for post in found if post.uid != uid]
    for post in moved:
        votes = post.upvotes - post.downvotes
        main = topics[post.tid].main_pid == post.pid
        for owner, sign in ((post.uid, -1), (uid, 1)):
            values: dict[str, object] = {
                "postcount": User.postcount + sign,
                "reputation": User.reputation + sign * votes,
            }
            if main:
                values["topiccount"] = User.topiccount + sign
            session.execute(update(User).where(User.uid == owner).values(values))
        if main:
            topics[post.tid].uid = uid
        post.uid = uid
    session.flush()
    for tid in {post.tid for post in moved}:
        _recount_posters(session, tid)
    _forget_stale(session)
    return {}

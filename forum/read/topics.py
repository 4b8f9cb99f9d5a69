"""Topics as NodeBB's read API shows them: the topic page (``/api/topic/:tid``), its
teaser and pagination, ``Topics.getTopicData`` (v3), and the topic lists every list
page (category, recent, popular, top, tags, a user's topics) is made of."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, union_all
from sqlalchemy.orm import Session

from forum import topic_events, topic_reads
from forum.clock import iso
from forum.errors import ForumError, bad_request, forbidden, not_found
from forum.models import (
    Bookmark,
    Category,
    Post,
    PostVote,
    Topic,
    TopicEvent,
    TopicFollow,
    TopicIgnore,
    TopicTag,
    User,
)
from forum.read import loading, objects
from forum.read.access import Viewer
from forum.read.objects import JSON
from forum.read.pages import Redirect, breadcrumbs, page_count, pagination
from forum.read.posts import post_summaries
from forum.read.render import escape

TOPIC_PRIVILEGES = (
    "topics:reply", "topics:read", "topics:schedule", "topics:tag", "topics:delete",
    "posts:edit", "posts:history", "posts:upvote", "posts:downvote", "posts:delete",
    "posts:view_deleted", "read", "purge",
)  # fmt: skip


def readable_topic(session: Session, viewer: Viewer, tid: int) -> tuple[Topic, Category]:
    """The topic and its category, if ``viewer`` may read it: 404 ``no-topic`` when it
    does not exist (or its category is disabled), 403 when it is hidden from them."""
    row = session.execute(
        select(Topic, Category).join(Category, Category.cid == Topic.cid).where(Topic.tid == tid)
    ).first()
    if row is None or row[1].disabled:
        raise not_found("no-topic")
    topic, category = row
    if not viewer.sees_topic(topic.cid, topic.deleted):
        raise forbidden()
    return topic, category


def topic_data(session: Session, viewer: Viewer, tid: int) -> JSON:
    """``GET /api/v3/topics/:tid``'s answer: the topic's fields with its thumbnails."""
    topic = topic_get(session, viewer, tid)
    return loading.with_thumbs(objects.topic_fields(topic), loading.thumbs(session, [tid]))


def topic_get(session: Session, viewer: Viewer, tid: int) -> Topic:
    """``GET /api/v3/topics/:tid``: a topic the viewer may not read is 404 ``no-topic``."""
    try:
        return readable_topic(session, viewer, tid)[0]
    except ForumError as refused:
        raise not_found("no-topic") from refused


def thumbs_topic(session: Session, viewer: Viewer, tid: int) -> int:
    """``topicsAPI.getThumbs``' checks: a topic that does not exist is 400 ``not-found``,
    one whose category ``viewer`` may not read (``topics:read``, or disabled) 400
    ``not-allowed``; a deleted topic's thumbnails stay listed, as in core."""
    row = session.execute(
        select(Topic.cid, Category.disabled)
        .join(Category, Category.cid == Topic.cid)
        .where(Topic.tid == tid)
    ).first()
    if row is None:
        raise bad_request("not-found")
    if row.disabled or not viewer.can("topics:read", row.cid):
        raise bad_request("not-allowed")
    return tid


def topic_privileges(viewer: Viewer, topic: Topic, category: Category) -> JSON:
    """NodeBB's ``privileges.topics.get``."""
    cid = topic.cid
    held = {name: viewer.can(name, cid) for name in TOPIC_PRIVILEGES}
    moderator = viewer.moderates(cid)
    owner = viewer.logged_in and topic.uid == viewer.uid
    editable = moderator or (owner and held["posts:edit"])
    deletable = moderator or (owner and held["topics:delete"])
    return {
        **held,
        "view_thread_tools": editable or deletable,
        "editable": editable,
        "deletable": deletable,
        "view_deleted": viewer.sees_deleted(cid),
        "view_scheduled": moderator or held["topics:schedule"],
        "isAdminOrMod": moderator,
        "disabled": int(category.disabled),
        "tid": str(topic.tid),
        "uid": viewer.uid,
    }


# A topic page in two statements (besides the viewer's): the topic with its category,
# its author, its tags and whether the viewer follows or ignores it; then the window of
# posts with their authors and the viewer's vote and bookmark on each. Built once, as
# Core selects of plain columns: a page is read many times more often than written,
# and building and loading ORM objects was most of its CPU.
_TOPICS, _CATEGORIES, _POSTS = Topic.__table__, Category.__table__, Post.__table__
_TAGS, _USERS = TopicTag.__table__, User.__table__
_VIEWER = bindparam("viewer")
_OWNER = _USERS.alias("owner")


def _authored(users: Any, prefix: str) -> list[Any]:
    return [column.label(prefix + column.key) for column in users.c
            if column.key in loading.SUMMARY_COLUMN_NAMES]  # fmt: skip


def _watching(model: type[TopicFollow] | type[TopicIgnore]) -> Any:
    table = model.__table__
    return exists().where(table.c.tid == _TOPICS.c.tid, table.c.uid == _VIEWER)


_PAGE_TOPIC = (
    select(
        *_TOPICS.c,
        *(column.label("category_" + column.key) for column in _CATEGORIES.c),
        *_authored(_OWNER, "owner_"),
        select(func.aggregate_strings(_TAGS.c.tag, ","))
        .where(_TAGS.c.tid == _TOPICS.c.tid)
        .scalar_subquery()
        .label("tag_list"),
        _watching(TopicFollow).label("following"),
        _watching(TopicIgnore).label("ignoring"),
    )
    .join(_CATEGORIES, _CATEGORIES.c.cid == _TOPICS.c.cid)
    .outerjoin(_OWNER, _OWNER.c.uid == _TOPICS.c.uid)
    .where(_TOPICS.c.tid == bindparam("tid"))
)


def _page_posts(first: bool) -> Any:
    """Rows ``skip`` .. of the topic: its main post first (index 0), then the replies
    oldest first, as NodeBB's ``tid:<tid>:posts`` set. The pids are found first
    (``pid = main OR pid IN (...)`` would scan every post of the forum)."""
    votes, bookmarks = PostVote.__table__, Bookmark.__table__
    pids: Any = (
        select(_POSTS.c.pid)
        .where(_POSTS.c.tid == bindparam("tid"), _POSTS.c.pid != bindparam("main"))
        .order_by(_POSTS.c.timestamp, _POSTS.c.pid)
        .offset(bindparam("skip")).limit(bindparam("take"))
    ).subquery()  # fmt: skip
    pids = select(pids.c.pid)
    if first:
        pids = union_all(select(_POSTS.c.pid).where(_POSTS.c.pid == bindparam("main")), pids)
    return (
        select(*_POSTS.c, *_authored(_USERS, "author_"), votes.c.value.label("vote"),
               bookmarks.c.pid.label("bookmarked"))
        .outerjoin(_USERS, _USERS.c.uid == _POSTS.c.uid)
        .outerjoin(votes, and_(votes.c.pid == _POSTS.c.pid, votes.c.uid == _VIEWER))
        .outerjoin(bookmarks, and_(bookmarks.c.pid == _POSTS.c.pid, bookmarks.c.uid == _VIEWER))
        .where(_POSTS.c.pid.in_(pids))
    )  # fmt: skip


_PAGE_CATEGORY = loading.Joined(_PAGE_TOPIC, "category_")
_OWNER_OF = loading.Joined(_PAGE_TOPIC, "owner_")
# The first page's statement and the later pages', each with its authors' columns.
_PAGE_POSTS = {
    first: (statement, loading.Joined(statement, "author_"))
    for first, statement in ((True, _page_posts(True)), (False, _page_posts(False)))
}


def _summary(user: Any, now: int) -> JSON:
    """The user summary of a joined user's columns (a guest's when the row had none)."""
    return objects.guest_user() if user.uid is None else objects.user_summary(user, now)


def topic_page(
    session: Session,
    viewer: Viewer,
    tid: int,
    *,
    post_index: int | None,
    page: int | None,
    per_page: int,
    now: int,
) -> JSON:
    """``/api/topic/:tid/:slug?/:post_index?`` with NodeBB's default (infinite scroll)
    paging: a ``post_index`` shows the page around that post; ``?page=N`` shows rows
    ``(N-1) * per_page`` on; a ``post_index`` past the last post redirects to it."""
    head = session.execute(_PAGE_TOPIC, {"tid": tid, "viewer": viewer.uid}).first()
    if head is None or head.category_disabled:
        raise not_found("no-topic")
    topic: Any = head  # the topic's own columns keep their names
    category: Any = _PAGE_CATEGORY(head)
    if not viewer.sees_topic(topic.cid, topic.deleted):
        raise forbidden()
    index = post_index or 1
    if topic.postcount > 0 and not 1 <= index <= topic.postcount:
        suffix = f"/{topic.postcount}" if index > topic.postcount else ""
        raise Redirect(f"/topic/{topic.slug}{suffix}")
    current = max(1, page) if page else 1 + (index - 1) // per_page
    start = (
        max(0, index - -(-per_page // 2)) if index > 1 and not page else (current - 1) * per_page
    )
    main = topic.main_pid
    params = {"tid": tid, "main": main, "viewer": viewer.uid, "skip": max(0, start - 1),
              "take": per_page - 1 if start == 0 else per_page}  # fmt: skip
    statement, author_of = _PAGE_POSTS[start == 0]
    rows = session.execute(statement, params).all()
    posts = sorted(rows, key=lambda post: (post.pid != main, post.timestamp, post.pid))
    sees_deleted = viewer.sees_deleted(topic.cid)
    privileges = topic_privileges(viewer, topic, category)
    authors: dict[int, JSON] = {}
    shown = []
    for offset, post in enumerate(posts):
        author = authors.get(post.uid)
        if author is None:
            author = authors[post.uid] = _summary(author_of(post), now)
        item = objects.post_object(
            post, index=start + offset, author=author, viewer_uid=viewer.uid,
            sees_deleted=sees_deleted, vote=post.vote or 0,
            bookmarked=post.bookmarked is not None,
        )  # fmt: skip
        item["replies"] = {"hasMore": False, "users": [], "text": "", "count": post.replies}
        item["topicOwnerPost"] = post.uid == topic.uid
        _post_tools(item, privileges, viewer, topic)
        shown.append(item)
    author = authors.get(topic.uid) or _summary(_OWNER_OF(head), now)
    following, ignoring = bool(head.following), bool(head.ignoring)
    # A top-level category (most are) is its own whole trail: no need to load them all.
    trail = {category.cid: category} if not category.parent_cid else loading.categories(session)
    crumbs = breadcrumbs(trail, topic.cid, {"text": objects.escape(topic.title)})
    tags = sorted(head.tag_list.split(",")) if head.tag_list else []
    return {
        **objects.topic_fields(topic, now=now),
        "tags": [objects.tag_object(t) for t in tags],
        "posts": shown,
        "category": objects.category_object(category),
        "tagWhitelist": [],
        "minTags": 0,
        "maxTags": 5,
        "thread_tools": [],
        "isFollowing": following,
        "isNotFollowing": not following and not ignoring,
        "isIgnoring": ignoring,
        "bookmark": None,
        "postSharing": [],
        "deleter": None,
        "merger": None,
        "forker": None,
        "related": [],
        "unreplied": topic.postcount <= 1,
        "icons": [],
        "privileges": privileges,
        "sortOptionLabel": "[[topic:oldest-to-newest]]",
        "rssFeedUrl": f"/topic/{topic.tid}.rss",
        "postIndex": index,
        "author": {
            "uid": topic.uid,
            "username": author["username"],
            "userslug": author["userslug"],
            "displayname": author["displayname"],
            "isLocal": True,
        },
        "crossposts": [],
        "pagination": pagination(current, page_count(topic.postcount, per_page)),
        "breadcrumbs": crumbs,
    }


def _post_tools(item: JSON, privileges: JSON, viewer: Viewer, topic: Topic) -> None:
    """``Topics.modifyPostsByPrivilege``."""
    own = item["selfPost"]
    moderator = privileges["isAdminOrMod"]
    item["display_edit_tools"] = moderator or (own and privileges["posts:edit"])
    item["display_delete_tools"] = moderator or (own and privileges["posts:delete"])
    item["display_moderator_tools"] = item["display_edit_tools"] or item["display_delete_tools"]
    item["display_move_tools"] = moderator and item["index"] != 0
    deleted = bool(item["deleted"])
    item["display_post_menu"] = (
        moderator
        or (own and not topic.locked and not deleted)
        or (own and deleted and item["deleterUid"] == viewer.uid)
        or (viewer.logged_in and not deleted)
    )


def teaser_of(session: Session, viewer: Viewer, tid: int, now: int) -> JSON:
    """``/api/topic/teaser/:tid``: the summary of the topic's latest undeleted post."""
    topic, _ = readable_topic(session, viewer, tid)
    found = post_summaries(session, viewer, [topic.teaser_pid or topic.main_pid], now)
    if not found:
        raise not_found("no-post")
    return found[0]


def topic_pagination(
    session: Session, viewer: Viewer, tid: int, page: int | None, per_page: int
) -> JSON:
    """``/api/topic/pagination/:tid``."""
    topic, _ = readable_topic(session, viewer, tid)
    found = pagination(page or 1, page_count(topic.postcount, per_page))
    for rel in found["rel"]:
        rel["href"] = f"/topic/{topic.slug}{rel['href']}"
    return {"pagination": found}


def topic_list(
    session: Session,
    viewer: Viewer,
    topics: Sequence[Topic],
    now: int,
    *,
    start: int = 0,
    categories: dict[int, Category] | None = None,
) -> list[JSON]:
    """``Topics.getTopicsByTids``: each topic with its category, author, tags and teaser
    (a fixed number of statements, whatever the number of topics)."""
    if not topics:
        return []
    categories = categories if categories is not None else loading.categories(session)
    tids = [t.tid for t in topics]
    tags = loading.tags(session, tids)
    teasers = loading.posts(session, [t.teaser_pid or t.main_pid for t in topics])
    authors = loading.users(
        session, {t.uid for t in topics} | {p.uid for p in teasers.values()}, now
    )
    following, ignoring = loading.watching(session, viewer.uid, tids)
    read = topic_reads.markers(session, viewer.uid, tids)
    thumbs = loading.thumbs(session, tids)
    listed = []
    for offset, topic in enumerate(topics):
        category = categories.get(topic.cid)
        if category is None or category.disabled:
            continue
        teaser = teasers.get(topic.teaser_pid or topic.main_pid)
        item = loading.with_thumbs(
            objects.topic_fields(topic, tags.get(topic.tid, []), now), thumbs
        )
        item.update(
            category=objects.category_brief(category),
            user=authors.get(topic.uid) or authors[0],
            teaser=None
            if teaser is None
            else objects.teaser(teaser, topic.postcount, authors.get(teaser.uid) or authors[0]),
            isOwner=viewer.logged_in and topic.uid == viewer.uid,
            ignored=topic.tid in ignoring,
            followed=topic.tid in following,
            unread=topic_reads.is_unread(
                topic, teaser.uid if teaser else None, read.get(topic.tid), viewer.uid, now
            ),
            bookmark=None,
            unreplied=topic.postcount <= 1,
            icons=[],
            index=start + offset,
        )
        listed.append(item)
    return listed


def visible(viewer: Viewer, cids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Of ``cids``: those whose topics ``viewer`` may list, and among them those where
    deleted topics are shown to them."""
    readable = [cid for cid in cids if viewer.reads(cid)]
    return readable, [cid for cid in readable if viewer.sees_deleted(cid)]


def shown_topics(viewer: Viewer, cids: Sequence[int]):  # type: ignore[no-untyped-def]
    """A WHERE clause: topics of readable categories, deleted ones only where seen."""
    readable, with_deleted = visible(viewer, cids)
    return and_(
        Topic.cid.in_(readable),
        (Topic.deleted.is_(False) | Topic.cid.in_(with_deleted)) if with_deleted else
        Topic.deleted.is_(False),
    )  # fmt: skip


# --- /api/v3/topics/{tid}/events -------------------------------------------------------

TIMEAGO_CUTOFF_MS = 30 * 86_400_000  # meta.config.timeagoCutoff: 30 days
USER_FIELDS = ("uid", "username", "displayname", "userslug", "picture", "icon:text",
               "icon:bgColor")  # fmt: skip


def _arg(text: str) -> str:
    """A translation argument, as NodeBB's ``translator.compile`` escapes it."""
    return text.replace("%", "&#37;").replace(",", "&#44;")


def _text(event: TopicEvent, user: JSON, category: JSON | None, now: int) -> str:
    """The event's untranslated text: ``[[key-ago|on, user, (category,) time]]``."""
    prefix = topic_events.TYPES[event.type][1]
    suffix = "on" if now - event.timestamp > TIMEAGO_CUTOFF_MS else "ago"
    who = "[[global:system-user]]"
    if user.get("uid"):
        who = f'<a href="/user/{escape(user["userslug"])}">{escape(user["displayname"])}</a>'
    when = f'<span class="timeago timeline-text" title="{iso(event.timestamp)}"></span>'
    args = [who] + ([] if category is None else [
        f'<a component="topic/category" href="/category/{escape(category["slug"])}">'
        f'{escape(category["name"])}</a>']) + [when]  # fmt: skip
    return f"[[{prefix}-{suffix}, {', '.join(_arg(a) for a in args)}]]"


def topic_event_list(session: Session, viewer: Viewer, tid: int, now: int) -> JSON:
    """Core's ``GET /topics/{tid}/events``: the topic's events, oldest first; a move
    from a category the viewer may not find is left out."""
    readable_topic(session, viewer, tid)  # 404 no-topic, 403 no-privileges
    known = TopicEvent.type.in_(list(topic_events.TYPES))
    # An expiring pin's unpin is recorded ahead, dated at the expiry: listed from then.
    query = select(TopicEvent).where(TopicEvent.tid == tid, known, TopicEvent.timestamp <= now)
    rows = list(session.scalars(query.order_by(TopicEvent.timestamp, TopicEvent.id)))
    users = loading.users(session, {row.uid for row in rows}, now)
    found = {c.cid: c for c in session.scalars(
        select(Category).where(Category.cid.in_({r.from_cid for r in rows if r.from_cid}))
    )}  # fmt: skip
    listed = []
    for row in rows:
        category: JSON | None = None
        if row.from_cid:
            source = found.get(row.from_cid)
            if source is None or not viewer.can("find", source.cid):
                continue
            category = {"cid": source.cid, "name": source.name, "slug": source.slug,
                        "icon": source.icon, "color": source.color,
                        "bgColor": source.bg_color}  # fmt: skip
        user = {key: users[row.uid][key] for key in USER_FIELDS}
        event: JSON = {
            "type": row.type, "id": row.id, "uid": row.uid, "timestamp": row.timestamp,
            "timestampISO": iso(row.timestamp), "user": user,
            "icon": topic_events.TYPES[row.type][0], "text": _text(row, user, category, now),
        }  # fmt: skip
        if category is not None:
            event.update(fromCid=row.from_cid, fromCategory=category)
        listed.append(event)
    return {"events": listed}

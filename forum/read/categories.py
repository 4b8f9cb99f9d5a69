"""Categories as NodeBB's read API shows them: the index (``/api/categories``), a
category page with its topics (``/api/category/:cid``) and the v3 category GETs."""

from urllib.parse import urlencode

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from forum.errors import forbidden, not_found
from forum.models import Category, Post, Topic
from forum.read import loading, objects
from forum.read.access import Viewer
from forum.read.objects import JSON
from forum.read.pages import Redirect, breadcrumbs, page_count, page_window, pagination
from forum.read.posts import post_summaries
from forum.read.topics import topic_list

CATEGORY_PRIVILEGES = ("topics:create", "topics:read", "topics:tag", "read")


def _ordered(categories: dict[int, Category]) -> list[Category]:
    return sorted(categories.values(), key=lambda c: (c.order, c.cid))


def _found(viewer: Viewer, category: Category) -> bool:
    return not category.disabled and viewer.finds(category.cid)


def _tree(viewer: Viewer, categories: dict[int, Category], parent: int) -> list[JSON]:
    """The categories under ``parent`` the viewer may find, each with its own children."""
    nodes = []
    for category in _ordered(categories):
        if category.parent_cid == parent and _found(viewer, category):
            node = objects.category_object(category)
            node["children"] = _tree(viewer, categories, category.cid)
            node["posts"], node["teaser"] = [], None
            nodes.append(node)
    return nodes


def categories_index(session: Session, viewer: Viewer) -> JSON:
    """``/api/categories``: the top-level categories the viewer may find, with children."""
    tree = _tree(viewer, loading.categories(session), 0)
    return {
        "title": "[[pages:categories]]",
        "categories": tree,
        "pagination": pagination(1, 1),
        "breadcrumbs": [{"text": "[[global:home]]", "url": "/"},
                        {"text": "[[pages:categories]]"}],
    }  # fmt: skip


def category_privileges(viewer: Viewer, cid: int) -> JSON:
    """NodeBB's ``privileges.categories.get``."""
    moderator = viewer.moderates(cid)
    return {
        **{name: viewer.can(name, cid) for name in CATEGORY_PRIVILEGES},
        "cid": str(cid),
        "uid": viewer.uid,
        "editable": moderator,
        "view_deleted": viewer.sees_deleted(cid),
        "isAdminOrMod": moderator,
    }


def _existing(session: Session, cid: int) -> Category:
    category = session.get(Category, cid)
    if category is None or category.disabled:
        raise not_found("no-category")
    return category


def readable_category(session: Session, viewer: Viewer, cid: int) -> Category:
    category = _existing(session, cid)
    if not viewer.can("read", cid):
        raise forbidden()
    return category


def category_topics(
    session: Session, viewer: Viewer, category: Category, start: int, count: int, now: int
) -> list[Topic]:
    """A window of the category's topics: pinned ones first, then the rest by last
    reply, newest first (NodeBB's ``cid:<cid>:tids:pinned`` and ``cid:<cid>:tids``).
    Deleted topics only for those who see deleted content."""
    shown = [Topic.cid == category.cid]
    if not viewer.sees_deleted(category.cid):
        shown.append(Topic.deleted.is_(False))
    newest = (Topic.lastposttime.desc(), Topic.tid.desc())
    # A pin past its expiry no longer pins (objects.pinned_at).
    pin = and_(Topic.pinned.is_(True), or_(Topic.pin_expiry == 0, Topic.pin_expiry > now))
    pinned = list(session.scalars(select(Topic).where(*shown, pin).order_by(*newest)))
    window = pinned[start : start + count]
    rest = select(Topic).where(*shown, not_(pin)).order_by(*newest)
    rest = rest.offset(max(0, start - len(pinned))).limit(count - len(window))
    return window + list(session.scalars(rest)) if len(window) < count else window


def category_page(
    session: Session,
    viewer: Viewer,
    cid: int,
    *,
    topic_index: int | None,
    page: int | None,
    query: dict[str, str],
    per_page: int,
    now: int,
) -> JSON:
    """``/api/category/:cid/:slug?/:topic_index?`` with NodeBB's default (infinite
    scroll) paging: a ``topic_index`` shows the topics around it; one past the last
    topic redirects to the last."""
    category = _existing(session, cid)
    index = (topic_index - 1) if topic_index is not None else 0
    qs = urlencode(query)
    if index < 0:
        raise Redirect(f"/category/{category.slug}?{qs}")
    if not viewer.can("read", cid):
        raise forbidden()
    index = max(0, index - (-(-per_page // 2) - 1))
    window = page_window(page, per_page)
    start = window.start + index
    if index > max(category.topic_count - 1, 0):
        raise Redirect(f"/category/{category.slug}/{category.topic_count}?{qs}")
    topics = category_topics(session, viewer, category, start, per_page, now)
    everything = loading.categories(session)
    data = objects.category_object(category)
    data.update(
        topics=topic_list(session, viewer, topics, now, start=start, categories=everything),
        children=_tree(viewer, everything, cid),
        tagWhitelist=[],
        privileges=category_privileges(viewer, cid),
        nextStart=start + per_page,
        isWatched=False,
        isTracked=False,
        isNotWatched=True,
        isIgnored=False,
        hasMoreSubCategories=False,
        subCategoriesLeft=0,
        selectedTag=None,
        selectedTags=[],
        title=objects.escape(category.name),
        pagination=pagination(window.page, page_count(category.topic_count, per_page), query),
        breadcrumbs=breadcrumbs(everything, cid),
    )
    data["breadcrumbs"][-1].pop("url", None)
    return data


# --- /api/v3/categories ------------------------------------------------------------------


def category_get(session: Session, viewer: Viewer, cid: int) -> JSON:
    """``GET /api/v3/categories/:cid`` (``api.categories.get``): 404 unless readable."""
    category = session.get(Category, cid)
    if category is None or not viewer.can("read", cid):
        raise not_found("no-category")
    return objects.category_object(category)


def category_list(session: Session, viewer: Viewer) -> JSON:
    """``GET /api/v3/categories``: every category the viewer may find, in order."""
    found = [c for c in _ordered(loading.categories(session)) if _found(viewer, c)]
    return {"categories": [objects.category_object(c) for c in found]}


def category_children(session: Session, viewer: Viewer, cid: int) -> JSON:
    category_get(session, viewer, cid)
    everything = loading.categories(session)
    children = [c for c in _ordered(everything) if c.parent_cid == cid and _found(viewer, c)]
    return {"categories": [objects.category_object(c) for c in children]}


def category_count(session: Session, viewer: Viewer, cid: int) -> JSON:
    return {"count": category_get(session, viewer, cid)["topic_count"]}


def category_topic_window(
    session: Session, viewer: Viewer, cid: int, after: int, per_page: int, now: int
) -> JSON:
    """``GET /api/v3/categories/:cid/topics?after=N``."""
    category = readable_category(session, viewer, cid)
    topics = category_topics(session, viewer, category, after, per_page, now)
    return {
        "topics": topic_list(session, viewer, topics, now, start=after),
        "privileges": category_privileges(viewer, cid),
        "nextStart": after + per_page,
    }


def category_recent_posts(session: Session, viewer: Viewer, cid: int, now: int) -> JSON:
    """``GET /api/v3/categories/:cid/posts``: the category's latest replies (summaries)."""
    readable_category(session, viewer, cid)
    shown = [Topic.cid == cid]
    if not viewer.sees_deleted(cid):
        shown += [Topic.deleted.is_(False), Post.deleted.is_(False)]
    pids = list(
        session.scalars(
            select(Post.pid).join(Topic, Topic.tid == Post.tid).where(*shown)
            .order_by(Post.timestamp.desc(), Post.pid.desc()).limit(20)
        )
    )  # fmt: skip
    return {"posts": post_summaries(session, viewer, pids, now)}

"""The forum-wide lists: ``/api/recent``, ``/api/popular``, ``/api/top``,
``/api/unread`` (+ ``/total``), ``/api/tags``, ``/api/tags/:tag`` and
``/api/recent/posts``. Each shows only topics the caller may list."""

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from forum import category_watch, topic_reads
from forum.errors import not_authorised
from forum.models import Post, Topic, TopicFollow, TopicIgnore, TopicTag
from forum.read import loading, objects
from forum.read.access import Viewer
from forum.read.objects import JSON
from forum.read.pages import page_count, pagination
from forum.read.posts import post_summaries
from forum.read.render import escape
from forum.read.topics import shown_topics, topic_list

DAY_MS = 86_400_000
# NodeBB's helpers.terms: ?term= -> how far back, in days (None: all time).
TERMS = {"daily": 1, "day": 1, "weekly": 7, "week": 7, "monthly": 30, "month": 30,
         "alltime": None}  # fmt: skip
TAGS_PER_PAGE = 100
# NodeBB's helpers.buildFilters, of which forumq serves the first (no read markers).
ALL_TOPICS = {"name": "[[unread:all-topics]]", "url": "", "selected": True, "filter": "",
              "icon": "fa-book"}  # fmt: skip


@dataclass(frozen=True)
class TopicsWanted:
    """One page of a topic list: ``page`` of ``per_page``, within ``term`` (a TERMS key)
    and, optionally, the categories ``cids``."""

    page: int
    per_page: int
    term: str = "alltime"
    cids: tuple[int, ...] = ()


def _cids(session: Session, viewer: Viewer, wanted: TopicsWanted) -> list[int]:
    """The categories a list draws from: enabled, readable, and among ``?cid=`` if given."""
    cids = [cid for cid in loading.enabled_cids(session) if viewer.reads(cid)]
    return [cid for cid in cids if cid in wanted.cids] if wanted.cids else cids


def _listed(session: Session, viewer: Viewer, wanted: TopicsWanted, now: int,
            *, unread: bool = False) -> Select:  # type: ignore[type-arg]  # fmt: skip
    query = select(Topic).where(shown_topics(viewer, _cids(session, viewer, wanted)))
    if viewer.logged_in and not wanted.cids and not unread:
        # NodeBB's filterTids: the caller's ignored categories, unless asked for by cid.
        query = query.where(~category_watch.in_states(viewer.uid, [category_watch.IGNORING]))
    days = TERMS.get(wanted.term)
    if days:
        query = query.where(Topic.lastposttime > now - days * DAY_MS)
    return query


def _whole_count(session: Session, viewer: Viewer, wanted: TopicsWanted) -> int | None:
    """A list of every topic (no term): its size from the categories' counters, as NodeBB
    counts its ``topics:recent`` set (deleted topics included), not a count of the rows."""
    if TERMS.get(wanted.term):
        return None
    everything = loading.categories(session)
    cids = _cids(session, viewer, wanted)
    if viewer.logged_in and not wanted.cids:  # as _listed: not the ignored categories
        known = category_watch.states(session, viewer.uid, cids)
        cids = [cid for cid in cids if known[cid] != category_watch.IGNORING]
    return sum(everything[cid].topic_count for cid in cids)


def _page(session: Session, viewer: Viewer, query: Select, wanted: TopicsWanted, now: int,  # type: ignore[type-arg]
          title: str, total: int | None = None) -> JSON:  # fmt: skip
    start = (wanted.page - 1) * wanted.per_page
    selected = TERMS.get(wanted.term)
    terms = [
        {"name": f"[[recent:{name}]]", "url": f"?term={name}", "term": name,
         "selected": TERMS[name] == selected}
        for name in ("alltime", "day", "week", "month")
    ]  # fmt: skip
    if total is None:
        counted = select(func.count()).select_from(query.order_by(None).subquery())
        total = int(session.scalar(counted) or 0)
    topics = list(session.scalars(query.offset(start).limit(wanted.per_page)))
    return {
        "topics": topic_list(session, viewer, topics, now, start=start),
        "topicCount": total,
        "nextStart": start + wanted.per_page,
        "title": title,
        "selectedCategory": None,
        "selectedCids": list(wanted.cids),
        "allCategoriesUrl": "",
        "canPost": viewer.logged_in and not viewer.banned,
        "showSelect": False,
        "showTopicTools": False,
        "feeds:disableRSS": 0,
        "reputation:disabled": 0,
        "rssFeedUrl": "",
        "filters": [ALL_TOPICS],
        "selectedFilter": ALL_TOPICS,
        "terms": terms,
        "selectedTerm": next(t for t in terms if t["selected"]),
        "pagination": pagination(wanted.page, page_count(total, wanted.per_page)),
        "breadcrumbs": [{"text": "[[global:home]]", "url": "/"}, {"text": title}],
    }


def recent(session: Session, viewer: Viewer, wanted: TopicsWanted, now: int) -> JSON:
    """Topics by latest reply, newest first."""
    query = _listed(session, viewer, wanted, now)
    query = query.order_by(Topic.lastposttime.desc(), Topic.tid.desc())
    total = _whole_count(session, viewer, wanted)
    return _page(session, viewer, query, wanted, now, "[[pages:recent]]", total)


def popular(session: Session, viewer: Viewer, wanted: TopicsWanted, now: int) -> JSON:
    """Topics by number of posts (then views), within the term."""
    query = _listed(session, viewer, wanted, now).order_by(
        Topic.postcount.desc(), Topic.viewcount.desc(), Topic.tid.desc()
    )
    total = _whole_count(session, viewer, wanted)
    return _page(session, viewer, query, wanted, now, f"[[pages:popular-{wanted.term}]]", total)


def top(session: Session, viewer: Viewer, wanted: TopicsWanted, now: int) -> JSON:
    """Topics by votes, within the term."""
    query = _listed(session, viewer, wanted, now).order_by(
        (Topic.upvotes - Topic.downvotes).desc(), Topic.postcount.desc(), Topic.tid.desc()
    )
    total = _whole_count(session, viewer, wanted)
    return _page(session, viewer, query, wanted, now, f"[[pages:top-{wanted.term}]]", total)


def _unread_query(session: Session, viewer: Viewer, wanted: TopicsWanted, now: int) -> Select:  # type: ignore[type-arg]
    """The topics with news for the caller (``forum.topic_reads``), by latest reply."""
    if not viewer.logged_in:
        raise not_authorised()
    ignored = select(TopicIgnore.tid).where(TopicIgnore.uid == viewer.uid)
    followed = select(TopicFollow.tid).where(TopicFollow.uid == viewer.uid)
    unwatched = (category_watch.IGNORING, category_watch.NOTWATCHING)
    return (
        _listed(session, viewer, wanted, now, unread=True)
        .where(topic_reads.unread_clause(viewer.uid, now))
        .where(Topic.tid.not_in(ignored))  # NodeBB's unread leaves ignored topics out
        # and topics of categories not watched or tracked, unless followed
        .where(~category_watch.in_states(viewer.uid, unwatched) | Topic.tid.in_(followed))
        .order_by(Topic.lastposttime.desc(), Topic.tid.desc())
    )


def unread(session: Session, viewer: Viewer, wanted: TopicsWanted, now: int) -> JSON:
    query = _unread_query(session, viewer, wanted, now)
    return _page(session, viewer, query, wanted, now, "[[pages:unread]]")


def unread_total(session: Session, viewer: Viewer, now: int) -> int:
    query = _unread_query(session, viewer, TopicsWanted(1, 1), now).order_by(None)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def tags(session: Session, viewer: Viewer) -> JSON:
    """``/api/tags``: tags by the number of listed topics carrying them, most first."""
    shown = shown_topics(viewer, loading.enabled_cids(session))
    count = func.count().label("score")
    rows = session.execute(
        select(TopicTag.tag, count).join(Topic, Topic.tid == TopicTag.tid).where(shown)
        .group_by(TopicTag.tag).order_by(count.desc(), TopicTag.tag).limit(TAGS_PER_PAGE)
    ).all()  # fmt: skip
    return {
        "tags": [objects.tag_object(tag, score) for tag, score in rows],
        "displayTagSearch": True,
        "nextStart": TAGS_PER_PAGE,
        "title": "[[pages:tags]]",
        "breadcrumbs": [{"text": "[[global:home]]", "url": "/"}, {"text": "[[tags:tags]]"}],
    }


def tag_page(session: Session, viewer: Viewer, tag: str, wanted: TopicsWanted, now: int) -> JSON:
    """``/api/tags/:tag``: the listed topics carrying ``tag``, by latest reply."""
    tagged = select(TopicTag.tid).where(TopicTag.tag == tag)
    query = _listed(session, viewer, wanted, now).where(Topic.tid.in_(tagged))
    query = query.order_by(Topic.lastposttime.desc(), Topic.tid.desc())
    data = _page(session, viewer, query, wanted, now, f"[[pages:tag, {escape(tag)}]]")
    data.update(tag=escape(tag), isFollowing=False)
    data["breadcrumbs"] = [
        {"text": "[[global:home]]", "url": "/"},
        {"text": "[[tags:tags]]", "url": "/tags"},
        {"text": escape(tag)},
    ]
    return data


def recent_posts(session: Session, viewer: Viewer, term: str, page: int, now: int) -> list[JSON]:
    """``/api/recent/posts/:term?``: the latest posts the caller may see (20 a page)."""
    query = (
        select(Post.pid).join(Topic, Topic.tid == Post.tid)
        .where(shown_topics(viewer, loading.enabled_cids(session)))
        .order_by(Post.timestamp.desc(), Post.pid.desc())
    )  # fmt: skip
    days = TERMS.get(term)
    if days:
        query = query.where(Post.timestamp > now - days * DAY_MS)
    pids = list(session.scalars(query.offset((page - 1) * 20).limit(20)))
    return post_summaries(session, viewer, pids, now)

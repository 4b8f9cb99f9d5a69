"""Categories as NodeBB's read API shows them: the index (``/api/categories``), a
category page with its topics (``/api/category/:cid``) and the v3 category GETs."""

from urllib.parse import urlencode

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from forum import category_watch, privileges
from forum.clock import now_ms
from forum.errors import forbidden, not_found
from forum.models import Category, CategoryPrivilege, Group, GroupMember, Post, Topic, User
from forum.read import loading, objects
from forum.read.access import Viewer
from forum.read.objects import JSON
from forum.read.pages import Redirect, breadcrumbs, page_count, page_window, pagination
from forum.read.posts import post_summaries
from forum.read.render import escape
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
        **_watch_flags(session, viewer, cid),
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


def _watch_flags(session: Session, viewer: Viewer, cid: int) -> dict[str, bool]:
    """The viewer's watch state of the category (a guest's: not watching)."""
    if not viewer.logged_in:
        return category_watch.flags(category_watch.NOTWATCHING)
    return category_watch.flags(category_watch.states(session, viewer.uid, [cid])[cid])


def category_moderators(session: Session, cid: int, now: int) -> JSON:
    """``/api/categories/:cid/moderators`` (NodeBB's ``categories.getModerators``): the
    holders of ``moderate`` on the category, users granted it first (in grant order), then
    the members of groups granted it; uid, names and picture of each. Anyone may ask; an
    unknown or disabled category has none. Implicit groups (``registered-users``,
    ``guests``) have no member rows, so a grant to them names nobody."""
    category = session.get(Category, cid)
    if category is None or category.disabled:
        return {"moderators": []}
    grants = session.execute(
        select(CategoryPrivilege.uid, CategoryPrivilege.group_name)
        .where(CategoryPrivilege.cid == cid, CategoryPrivilege.privilege == "moderate")
        .order_by(CategoryPrivilege.id)
    ).all()
    uids = [uid for uid, _ in grants if uid is not None]
    groups = [group for uid, group in grants if uid is None and group is not None]
    if groups:
        uids += session.scalars(
            select(GroupMember.uid)
            .where(GroupMember.group_name.in_(groups))
            .order_by(GroupMember.joined_at, GroupMember.uid)
        )
    order = list(dict.fromkeys(uids))
    users = {u.uid: u for u in session.scalars(select(User).where(User.uid.in_(order)))}
    fields = ("uid", "username", "userslug", "displayname", "picture", "icon:text",
              "icon:bgColor")  # fmt: skip
    moderators = []
    for uid in order:
        if uid in users:
            summary = objects.user_summary(users[uid], now)
            moderators.append({key: summary[key] for key in fields})
    return {"moderators": moderators}


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


# --- The privilege table (core's privileges.categories.list / privileges.global.list) -----

# Core's label and column type of each privilege, in its order.
CATEGORY_PRIVILEGE_COLUMNS = (
    ("find", "find-category", "viewing"), ("read", "access-category", "viewing"),
    ("topics:read", "access-topics", "viewing"), ("topics:create", "create-topics", "posting"),
    ("topics:reply", "reply-to-topics", "posting"),
    ("topics:crosspost", "crosspost-topics", "posting"),
    ("topics:schedule", "schedule-topics", "posting"), ("topics:tag", "tag-topics", "posting"),
    ("posts:edit", "edit-posts", "posting"), ("posts:history", "view-edit-history", "posting"),
    ("posts:delete", "delete-posts", "posting"), ("posts:upvote", "upvote-posts", "posting"),
    ("posts:downvote", "downvote-posts", "posting"), ("topics:delete", "delete-topics", "posting"),
    ("posts:view_deleted", "view-deleted", "moderation"), ("purge", "purge", "moderation"),
    ("moderate", "moderate", "moderation"),
)  # fmt: skip
GLOBAL_PRIVILEGE_COLUMNS = (
    ("chat", "chat", "posting"), ("chat:privileged", "chat-with-privileged", "posting"),
    ("upload:post:image", "upload-images", "posting"),
    ("upload:post:file", "upload-files", "posting"), ("signature", "signature", "posting"),
    ("invite", "invite", "posting"), ("group:create", "allow-group-creation", "posting"),
    ("search:content", "search-content", "viewing"), ("search:users", "search-users", "viewing"),
    ("search:tags", "search-tags", "viewing"), ("view:users", "view-users", "viewing"),
    ("view:tags", "view-tags", "viewing"), ("view:groups", "view-groups", "viewing"),
    ("local:login", "allow-local-login", "viewing"), ("ban", "ban", "moderation"),
    ("mute", "mute", "moderation"), ("view:users:info", "view-users-info", "moderation"),
)  # fmt: skip
# Core lists the ephemeral groups first, then these at the front, in this order; the
# administrators hold every privilege and are left out.
EPHEMERAL_GROUPS = (privileges.GUESTS, privileges.SPIDERS)
FRONT_GROUPS = (privileges.REGISTERED_USERS, "verified-users", "unverified-users",
                privileges.GLOBAL_MODERATORS, "banned-users")  # fmt: skip


def privilege_table(session: Session, actor: int, cid: int) -> JSON:
    """``GET /categories/{cid}/privileges`` (admins): who holds which privilege on the
    category (cid 0: the global privileges), as core's admin page lists it."""
    privileges.require_admin(session, actor)
    if cid != 0:
        _existing(session, cid)
    columns = GLOBAL_PRIVILEGE_COLUMNS if cid == 0 else CATEGORY_PRIVILEGE_COLUMNS
    names = [name for name, _, _ in columns]
    types = {name: kind for name, _, kind in columns}
    grants = session.execute(
        select(
            CategoryPrivilege.privilege, CategoryPrivilege.uid, CategoryPrivilege.group_name
        ).where(CategoryPrivilege.cid == cid, CategoryPrivilege.privilege.in_(names))
    ).all()
    by_user: dict[int, set[str]] = {}
    by_group: dict[str, set[str]] = {}
    for privilege, uid, group in grants:
        if uid is not None:
            by_user.setdefault(uid, set()).add(privilege)
        elif group is not None:
            by_group.setdefault(group, set()).add(privilege)
    return {
        "labelData": [{"label": f"[[admin/manage/privileges:{label}]]", "type": kind}
                      for _, label, kind in columns],
        "users": _user_rows(session, by_user, names, types),
        "groups": _group_rows(session, by_group, names, types),
        "keys": {"users": names, "groups": [privileges.GROUP_PREFIX + n for n in names]},
        "columnCountUserOther": 0,
        "columnCountGroupOther": 0,
    }  # fmt: skip


def _user_rows(
    session: Session, held: dict[int, set[str]], names: list[str], types: dict[str, str]
) -> list[JSON]:
    users = session.scalars(select(User).where(User.uid.in_(held)).order_by(User.uid))
    now = now_ms()
    rows = []
    for user in users:
        summary = objects.user_summary(user, now)
        rows.append({
            **{key: summary[key] for key in ("uid", "username", "displayname", "picture",
                                             "icon:text", "icon:bgColor",
                                             "banned_until_readable")},
            "banned": int(summary["banned"]),
            "privileges": {name: name in held[user.uid] for name in names},
            "types": types,
        })  # fmt: skip
    return rows


def _group_rows(
    session: Session, held: dict[str, set[str]], names: list[str], types: dict[str, str]
) -> list[JSON]:
    groups = {
        group.name: group for group in session.scalars(select(Group).order_by(Group.createtime))
    }
    order = [name for name in groups if name in held and name not in EPHEMERAL_GROUPS]
    for name in reversed(FRONT_GROUPS):
        if name in order:
            order.remove(name)
            order.insert(0, name)
    order = [*EPHEMERAL_GROUPS, *order]
    if privileges.ADMINISTRATORS in order:
        order.remove(privileges.ADMINISTRATORS)
    group_types = {privileges.GROUP_PREFIX + name: kind for name, kind in types.items()}
    rows = []
    for name in order:
        group = groups.get(name)
        rows.append({
            "name": name, "nameEscaped": escape(name),
            "privileges": {privileges.GROUP_PREFIX + n: n in held.get(name, set()) for n in names},
            "types": group_types,
            "isPrivate": bool(group and group.private), "isSystem": bool(group and group.system),
        })  # fmt: skip
    return rows

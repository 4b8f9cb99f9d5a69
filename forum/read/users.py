"""Users as NodeBB's read API shows them: ``/api/user/uid/:uid`` and friends
(``User.getUserData``, private fields hidden), the profile page ``/api/user/:userslug``
and its list pages, ``/api/users`` and ``/api/self``."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from forum import category_watch
from forum.clock import iso
from forum.errors import forbidden, not_authorised, not_found
from forum.models import (
    Bookmark,
    Category,
    Group,
    GroupMember,
    Post,
    PostVote,
    Topic,
    TopicFollow,
    TopicRead,
    User,
    UserFollow,
)
from forum.read import loading, objects
from forum.read.access import Viewer
from forum.read.objects import JSON
from forum.read.pages import page_count, pagination
from forum.read.posts import post_summaries
from forum.read.render import escape, markdown
from forum.read.topics import shown_topics, topic_list
from forum.topic_reads import UNREAD_MARK

# The pages only the user themself (or an administrator) may open (NodeBB's
# checkAccountPermissions), and the list each shows.
PRIVATE_LISTS = ("bookmarks", "upvoted", "downvoted", "watched", "read")


def find_user(session: Session, *, uid: int | None = None, userslug: str | None = None,
              username: str | None = None, email: str | None = None) -> User:  # fmt: skip
    query = select(User)
    if uid is not None:
        query = query.where(User.uid == uid)
    elif userslug is not None:
        query = query.where(User.userslug == userslug.lower())
    elif username is not None:
        query = query.where(User.username == username)
    else:
        query = query.where(func.lower(User.email) == (email or "").lower())
    user = session.scalars(query).first()
    if user is None:
        raise not_found("no-user")
    return user


def user_data(user: User, viewer: Viewer, now: int) -> JSON:
    """``User.getUserData`` with ``hidePrivateData``: e-mail and full name only for the
    user and administrators."""
    profile = user.profile or {}
    private = viewer.uid == user.uid or viewer.admin
    data = objects.user_summary(user, now)
    data.update(
        email=(user.email or "") if private else "",
        fullname=str(profile.get("fullname", "")) if private else "",
        location=str(profile.get("location", "")),
        website=str(profile.get("website", "")),
        birthday=str(profile.get("birthday", "")),
        aboutme=str(profile.get("aboutme", "")),
        uploadedpicture=None,
        profileviews=0,
        lastposttime=user.lastposttime,
        flags=0,
        followerCount=user.follower_count,
        followingCount=user.following_count,
        followercount=user.follower_count,
        followingcount=user.following_count,
        **{"cover:url": "", "cover:position": "50% 50%"},
    )
    # A mute past its end reads as none (NodeBB's getUserData lifts it then).
    muted = user.muted and (not user.muted_until or user.muted_until > now)
    data.update(muted=muted, mutedUntil=user.muted_until if muted else 0,
                mutedReason=user.muted_reason if muted else None)  # fmt: skip
    if muted:
        data["muted_until_readable"] = (
            iso(user.muted_until) if user.muted_until else "[[user:info.muted-permanently]]"
        )
    return data


def require_user_viewer(viewer: Viewer) -> None:
    if not viewer.logged_in:
        raise not_authorised()


def profile_page(session: Session, viewer: Viewer, user: User, now: int) -> JSON:
    """``/api/user/:userslug``: the profile, with the user's latest posts and groups."""
    data = _account(session, viewer, user, now)
    data.update(
        posts=post_summaries(session, viewer, _latest_pids(session, viewer, user.uid, 10), now),
        latestPosts=[], bestPosts=[], hasPrivateChat=0, template={"name": "account/profile"},
    )  # fmt: skip
    data["latestPosts"] = data["posts"]
    return data


def _account(session: Session, viewer: Viewer, user: User, now: int) -> JSON:
    """The account fields every profile page carries (NodeBB's buildAccountData)."""
    data = user_data(user, viewer, now)
    self_ = viewer.uid == user.uid
    target_admin = _groups_of(session, user.uid)
    following = viewer.logged_in and bool(
        session.scalar(
            select(func.count()).where(
                UserFollow.follower_uid == viewer.uid, UserFollow.followee_uid == user.uid
            )
        )
    )
    groups = [
        {"name": escape(g.name), "slug": g.slug, "userTitle": escape(g.name),
         "displayName": escape(g.name)}
        for g in target_admin if not g.hidden and not g.system
    ]  # fmt: skip
    names = {g.name for g in target_admin}
    data.update(
        aboutmeParsed=markdown(data["aboutme"]) if data["aboutme"] else "",
        age=0,
        emailHidden=not (self_ or viewer.admin),
        emailClass="hide",
        isSelf=self_,
        isAdmin=viewer.admin,
        isGlobalModerator=viewer.global_moderator,
        isModerator=False,
        isTargetAdmin="administrators" in names,
        isAdminOrGlobalModerator=viewer.admin or viewer.global_moderator,
        isAdminOrGlobalModeratorOrModerator=viewer.admin or viewer.global_moderator,
        isSelfOrAdminOrGlobalModerator=self_ or viewer.admin or viewer.global_moderator,
        canEdit=self_ or viewer.admin,
        canBan=viewer.admin and not self_,
        canMute=False,
        canFlag=viewer.logged_in and not self_,
        canChangePassword=self_ or viewer.admin,
        isFollowing=following,
        isFollowPending=False,
        canChat=viewer.logged_in and not self_,
        showHidden=self_ or viewer.admin,
        groups=groups,
        selectedGroup=[],
        counts={
            "posts": user.postcount,
            "topics": user.topiccount,
            "followers": user.follower_count,
            "following": user.following_count,
            "groups": len(groups),
        },
        yourid=viewer.uid,
        theirid=user.uid,
        title=escape(user.username),
        breadcrumbs=[{"text": "[[global:home]]", "url": "/"}, {"text": escape(user.username)}],
    )
    data["email:confirmed"] = bool(data["email:confirmed"])  # as accounts/helpers.js
    data["reputation:disabled"] = False
    data["downvote:disabled"] = False
    return data


def _groups_of(session: Session, uid: int) -> list[Group]:
    query = (
        select(Group).join(GroupMember, GroupMember.group_name == Group.name)
        .where(GroupMember.uid == uid).order_by(Group.name)
    )  # fmt: skip
    return list(session.scalars(query))


def _visible_posts(viewer: Viewer, cids: Sequence[int]) -> Select:  # type: ignore[type-arg]
    """Posts in topics the viewer may list; deleted posts only where they see them, or
    their own."""
    query = select(Post.pid).join(Topic, Topic.tid == Post.tid).where(shown_topics(viewer, cids))
    hidden = [cid for cid in cids if not viewer.sees_deleted(cid)]
    if hidden:
        query = query.where(
            Post.deleted.is_(False) | Topic.cid.not_in(hidden) | (Post.uid == viewer.uid)
        )
    return query


def _cids(session: Session) -> list[int]:
    return loading.enabled_cids(session)


def _latest_pids(session: Session, viewer: Viewer, uid: int, count: int) -> list[int]:
    query = _visible_posts(viewer, _cids(session)).where(Post.uid == uid)
    query = query.order_by(Post.timestamp.desc(), Post.pid.desc()).limit(count)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ListPage:
    """``/api/user/:userslug/<list>``: ``page`` (1-based) of ``per_page`` items."""

    name: str
    page: int
    per_page: int


def list_page(session: Session, viewer: Viewer, user: User, wanted: ListPage, now: int) -> JSON:
    """A profile's list: posts, topics, bookmarks, upvoted, downvoted, watched,
    followers, following or groups. Private lists: the user or an administrator."""
    if wanted.name in PRIVATE_LISTS:
        require_user_viewer(viewer)
        if viewer.uid != user.uid and not viewer.admin:
            raise forbidden()
    start = (wanted.page - 1) * wanted.per_page
    data = _account(session, viewer, user, now)
    cids = _cids(session)
    name, count = wanted.name, wanted.per_page
    if name in ("followers", "following"):
        mine, theirs = (
            (UserFollow.followee_uid, UserFollow.follower_uid)
            if name == "followers" else (UserFollow.follower_uid, UserFollow.followee_uid)
        )  # fmt: skip
        query = (
            select(User).join(UserFollow, theirs == User.uid).where(mine == user.uid)
            .order_by(UserFollow.created_at.desc()).offset(start).limit(count)
        )  # fmt: skip
        users = [objects.user_summary(u, now) for u in session.scalars(query)]
        for listed in users:  # these two pages show the stored flag, 0 or 1 (read.yaml)
            listed["banned"] = int(listed["banned"])
        total = user.follower_count if name == "followers" else user.following_count
        data.update(users=users, title=f"[[pages:{name}]]", nextStart=start + count)
    elif name == "groups":
        data["groups"] = [_group_brief(g) for g in _groups_of(session, user.uid) if not g.hidden]
        total = len(data["groups"])
    elif name in ("topics", "watched", "read"):
        topics_query = select(Topic).where(shown_topics(viewer, cids))
        if name == "topics":
            topics_query = topics_query.where(Topic.uid == user.uid)
            topics_query = topics_query.order_by(Topic.timestamp.desc(), Topic.tid.desc())
        elif name == "read":  # the topics read, latest reading first (uid:<uid>:tids_read)
            topics_query = topics_query.join(TopicRead, TopicRead.tid == Topic.tid).where(
                TopicRead.uid == user.uid, TopicRead.read_at > UNREAD_MARK
            ).order_by(TopicRead.read_at.desc(), Topic.tid.desc())  # fmt: skip
        else:
            topics_query = topics_query.join(TopicFollow, TopicFollow.tid == Topic.tid).where(
                TopicFollow.uid == user.uid
            ).order_by(Topic.lastposttime.desc(), Topic.tid.desc())  # fmt: skip
        total = _count(session, topics_query)
        topics = list(session.scalars(topics_query.offset(start).limit(count)))
        data.update(topics=topic_list(session, viewer, topics, now, start=start),
                    nextStart=start + count)  # fmt: skip
    else:
        pids = _visible_posts(viewer, cids)
        if name == "posts":
            pids = pids.where(Post.uid == user.uid).order_by(Post.timestamp.desc(), Post.pid.desc())
        elif name == "bookmarks":
            pids = pids.join(Bookmark, Bookmark.pid == Post.pid).where(Bookmark.uid == user.uid)
            pids = pids.order_by(Bookmark.created_at.desc(), Post.pid.desc())
        else:
            value = 1 if name == "upvoted" else -1
            pids = pids.join(PostVote, PostVote.pid == Post.pid).where(
                PostVote.uid == user.uid, PostVote.value == value
            ).order_by(PostVote.created_at.desc(), Post.pid.desc())  # fmt: skip
        total = _count(session, pids)
        found = list(session.scalars(pids.offset(start).limit(count)))
        data.update(posts=post_summaries(session, viewer, found, now), nextStart=start + count)
    data.update(
        pagination=pagination(wanted.page, page_count(total, count)),
        noItemsFoundKey="[[user:has-no-read-topics]]"
        if name == "read"
        else f"[[user:has-no-{name}]]",
        title=f"[[pages:account/{name}, {escape(user.username)}]]",
    )
    data["breadcrumbs"] = [
        {"text": "[[global:home]]", "url": "/"},
        {"text": escape(user.username), "url": f"/user/{user.userslug}"},
        {"text": f"[[user:{name}]]"},
    ]
    return data


CATEGORIES_PER_PAGE = 50  # meta.config.categoriesPerPage


def categories_page(session: Session, viewer: Viewer, user: User, page: int, now: int) -> JSON:
    """``/api/user/:userslug/categories``: every category the viewer may find, in tree
    order (``buildForSelect``), with the user's watch state of each; the user or an
    administrator."""
    require_user_viewer(viewer)
    if viewer.uid != user.uid and not viewer.admin:
        raise forbidden()
    everything = loading.categories(session)
    ordered = sorted(everything.values(), key=lambda c: (c.order, c.cid))
    tree: list[tuple[Category, int]] = []

    def walk(parent: int, depth: int) -> None:
        for category in ordered:
            if (
                category.parent_cid == parent
                and not category.disabled
                and viewer.finds(category.cid)
            ):
                tree.append((category, depth))
                walk(category.cid, depth + 1)

    walk(0, 0)
    pages = max(1, -(-len(tree) // CATEGORIES_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = tree[(page - 1) * CATEGORIES_PER_PAGE : page * CATEGORIES_PER_PAGE]
    states = category_watch.states(session, user.uid, [c.cid for c, _ in shown])
    listed = []
    for category, depth in shown:
        item = {key: value for key, value in objects.category_object(category).items()
                if key in CATEGORY_SELECT_FIELDS}  # fmt: skip
        item.update(level="&nbsp;&nbsp;&nbsp;&nbsp;" * depth, depth=depth,
                    **category_watch.flags(states[category.cid]))  # fmt: skip
        listed.append(item)
    data = _account(session, viewer, user, now)
    data.update(
        categories=listed,
        title=f"[[pages:account/watched-categories, {escape(user.username)}]]",
        pagination=pagination(page, pages),
        breadcrumbs=[
            {"text": "[[global:home]]", "url": "/"},
            {"text": escape(user.username), "url": f"/user/{user.userslug}"},
            {"text": "[[pages:categories]]"},
        ],
    )
    return data


# The fields of ``categories.buildForSelect`` (with descriptionParsed, depth and slug).
CATEGORY_SELECT_FIELDS = ("cid", "name", "icon", "parentCid", "color", "bgColor",
                          "backgroundImage", "imageClass", "descriptionParsed", "slug")  # fmt: skip


def _count(session: Session, query: Select) -> int:  # type: ignore[type-arg]
    return int(
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )


def _group_brief(group: Group) -> JSON:
    return {
        "name": escape(group.name), "slug": group.slug, "displayName": escape(group.name),
        "userTitle": escape(group.name), "description": escape(group.description),
        "memberCount": group.member_count, "hidden": int(group.hidden),
        "private": int(group.private), "system": int(group.system),
        "createtime": group.createtime, "createtimeISO": iso(group.createtime),
    }  # fmt: skip


def users_page(session: Session, viewer: Viewer, page: int, per_page: int, now: int) -> JSON:
    """``/api/users``: every user, newest first (NodeBB's default ``joindate`` section)."""
    start = (page - 1) * per_page
    total = int(session.scalar(select(func.count()).select_from(User)) or 0)
    query = (
        select(User).order_by(User.joindate.desc(), User.uid.desc()).offset(start).limit(per_page)
    )
    users = [objects.user_summary(u, now) for u in session.scalars(query)]
    return {
        "users": users,
        "section_joindate": True,
        "title": "[[pages:users/latest]]",
        "userCount": total,
        "isAdminOrGlobalMod": viewer.admin or viewer.global_moderator,
        "pagination": pagination(page, page_count(total, per_page)),
        "breadcrumbs": [{"text": "[[global:home]]", "url": "/"}, {"text": "[[global:users]]"}],
    }


def self_data(session: Session, viewer: Viewer, now: int) -> JSON:
    """``/api/self``: the caller's own account (401 for a guest)."""
    require_user_viewer(viewer)
    user = find_user(session, uid=viewer.uid)
    data = _account(session, viewer, user, now)
    data.pop("breadcrumbs", None)
    return data

"""The objects NodeBB's answers are made of, from forumq's rows.

Each function gives the shape NodeBB gives for one object (``components/schemas`` of
its OpenAPI documents): ``user_summary`` (UserObjectSlim), ``category_object``
(CategoryObject), ``topic_fields`` (``Topics.getTopicData``, TopicObjectSlim),
``post_fields`` (``Posts.getPostData``: raw content), ``post_object`` (a post of a
topic page: rendered content, author, the caller's votes). Write answers and read
answers share them, so one object looks the same wherever it appears."""

from functools import lru_cache
from typing import Any

from forum.clock import iso, now_ms
from forum.models import Category, Post, Topic, User
from forum.read.render import escape, markdown
from forum.users import is_banned

JSON = dict[str, Any]

# NodeBB's User.getIconBackgrounds.
ICON_BACKGROUNDS = (
    "#f44336", "#e91e63", "#9c27b0", "#673ab7", "#3f51b5", "#2196f3", "#009688", "#1b5e20",
    "#33691e", "#827717", "#e65100", "#ff5722", "#795548", "#607d8b", "#00bcd4", "#ffc107",
    "#8bc34a", "#9e9e9e", "#004d40", "#ad1457",
)  # fmt: skip
ONLINE_CUTOFF_MS = 30 * 60_000  # meta.config.onlineCutoff (minutes)
DELETED_POST = "[[topic:post-is-deleted]]"
BANNED_FOR_GOOD = "[[user:info.banned-permanently]]"


@lru_cache(maxsize=65536)
def _icon_background(username: str) -> str:
    # JavaScript sums charCodeAt() of each code point: its first UTF-16 unit.
    total = sum(
        ord(ch) if ord(ch) < 0x10000 else 0xD800 + ((ord(ch) - 0x10000) >> 10) for ch in username
    )
    return ICON_BACKGROUNDS[total % len(ICON_BACKGROUNDS)]


def user_summary(user: User | None, now: int) -> JSON:
    """A user as shown beside their content (UserObjectSlim); None: a guest or a
    deleted user, as NodeBB shows them."""
    if user is None:
        return guest_user()
    banned = is_banned(user, now)
    until = user.banned_until if banned else 0
    online = now - user.lastonline < ONLINE_CUTOFF_MS
    return {
        "uid": user.uid,
        "username": user.username,
        "userslug": user.userslug,
        "displayname": user.username,
        "picture": None,
        "icon:text": user.username[:1].upper(),
        "icon:bgColor": _icon_background(user.username),
        "status": "online" if online else "offline",
        "postcount": user.postcount,
        "topiccount": user.topiccount,
        "reputation": user.reputation,
        "email:confirmed": 0,
        "lastonline": user.lastonline,
        "lastonlineISO": iso(user.lastonline) or iso(user.joindate),
        "joindate": user.joindate,
        "joindateISO": iso(user.joindate),
        "banned": banned,
        "banned:expire": until,
        "banned_until": until,
        "banned_until_readable": iso(until) if until else BANNED_FOR_GOOD,
        "signature": str((user.profile or {}).get("signature", "")),
        "groupTitle": "",
        "groupTitleArray": [],
        "custom_profile_info": [],
        "isLocal": True,
    }


def guest_user() -> JSON:
    return {
        "uid": 0, "username": "[[global:guest]]", "userslug": "",
        "displayname": "[[global:guest]]", "picture": None, "icon:text": "?",
        "icon:bgColor": "#aaa", "status": "offline", "postcount": 0, "topiccount": 0,
        "reputation": 0, "email:confirmed": 0, "banned": False, "signature": "",
        "groupTitle": "", "groupTitleArray": [], "custom_profile_info": [], "isLocal": True,
    }  # fmt: skip


def category_object(category: Category) -> JSON:
    """``Categories.getCategoryData``: the name escaped, the description rendered."""
    return {
        "cid": category.cid,
        "name": escape(category.name),
        "handle": category.slug.partition("/")[2],
        "description": escape(category.description),
        "descriptionParsed": markdown(category.description) if category.description else "",
        "icon": category.icon,
        "bgColor": category.bg_color,
        "color": category.color,
        "slug": category.slug,
        "parentCid": category.parent_cid,
        "topic_count": category.topic_count,
        "post_count": category.post_count,
        "totalTopicCount": category.topic_count,
        "totalPostCount": category.post_count,
        "disabled": int(category.disabled),
        "order": category.order,
        "link": "",
        "numRecentReplies": 1,
        "class": category.css_class,
        "imageClass": "cover",
        "isSection": 0,
        "minTags": 0,
        "maxTags": 5,
        "postQueue": 0,
        "subCategoriesPerPage": 10,
        "backgroundImage": category.background_image or "",
    }


def category_brief(category: Category) -> JSON:
    """The category fields a topic carries (``topic.category``)."""
    return {
        "cid": category.cid,
        "name": escape(category.name),
        "slug": category.slug,
        "icon": category.icon,
        "bgColor": category.bg_color,
        "color": category.color,
        "backgroundImage": category.background_image or "",
        "imageClass": "cover",
        "disabled": int(category.disabled),
    }


def tag_object(tag: str, score: int | None = None) -> JSON:
    data: JSON = {
        "value": tag,
        "valueEscaped": escape(tag),
        "valueEncoded": tag.replace(" ", "%20"),
        "class": escape(tag.replace(" ", "-")),
    }
    if score is not None:
        data["score"] = score
    return data


def pinned_at(topic: Topic, now: int) -> bool:
    """A pin ends by itself at ``pin_expiry`` (NodeBB's checkPinExpiry unpins it then)."""
    return bool(topic.pinned) and (not topic.pin_expiry or topic.pin_expiry > now)


def topic_fields(topic: Topic, tags: list[str] | None = None, now: int | None = None) -> JSON:
    """``Topics.getTopicData``: the stored fields, the title escaped beside ``titleRaw``."""
    pinned = pinned_at(topic, now_ms() if now is None else now)
    expiry = topic.pin_expiry if pinned else 0
    data: JSON = {
        "tid": topic.tid,
        "uid": topic.uid,
        "cid": topic.cid,
        "title": escape(topic.title),
        "titleRaw": topic.title,
        "slug": topic.slug,
        "mainPid": topic.main_pid,
        "teaserPid": topic.teaser_pid,
        "postcount": topic.postcount,
        "viewcount": topic.viewcount,
        "postercount": topic.postercount,
        "followercount": topic.followercount,
        "scheduled": False,
        "deleted": int(topic.deleted),
        "deleterUid": topic.deleter_uid,
        "locked": int(topic.locked),
        "pinned": int(pinned),
        "pinExpiry": expiry,
        "pinExpiryISO": iso(expiry) if expiry else "",
        "timestamp": topic.timestamp,
        "timestampISO": iso(topic.timestamp),
        "lastposttime": topic.lastposttime,
        "lastposttimeISO": iso(topic.lastposttime),
        "upvotes": topic.upvotes,
        "downvotes": topic.downvotes,
        "votes": topic.upvotes - topic.downvotes,
        "thumbs": [],
        "numThumbs": 0,
    }
    if tags is not None:
        data["tags"] = [tag_object(tag) for tag in tags]
    return data


def post_fields(post: Post) -> JSON:
    """``Posts.getPostData``: the stored fields, ``content`` as written (Markdown)."""
    return {
        "pid": post.pid,
        "uid": post.uid,
        "tid": post.tid,
        "content": post.content,
        "sourceContent": None,
        "timestamp": post.timestamp,
        "timestampISO": iso(post.timestamp),
        "toPid": post.to_pid,
        "deleted": int(post.deleted),
        "deleterUid": post.deleter_uid,
        "upvotes": post.upvotes,
        "downvotes": post.downvotes,
        "votes": post.upvotes - post.downvotes,
        "bookmarks": post.bookmarks,
        "replies": post.replies,
        "edited": post.edited,
        "editedISO": iso(post.edited),
        "editor": post.editor,
        "announces": 0,
        "attachments": [],
    }


def shown_content(post: Post, viewer_uid: int, sees_deleted: bool) -> str | None:
    """The rendered content, or None where NodeBB shows ``post-is-deleted`` instead:
    a deleted post, to anyone but its author and those who see deleted content."""
    if post.deleted and not sees_deleted and post.uid != viewer_uid:
        return None
    return markdown(post.content)


def post_object(
    post: Post,
    *,
    index: int,
    author: JSON,
    viewer_uid: int,
    sees_deleted: bool,
    vote: int = 0,
    bookmarked: bool = False,
) -> JSON:
    """A post as a topic page (or a user's posts page) shows it."""
    data = post_fields(post)
    content = shown_content(post, viewer_uid, sees_deleted)
    data.update(
        content=DELETED_POST if content is None else content,
        index=index,
        user=author,
        upvoted=vote > 0,
        downvoted=vote < 0,
        bookmarked=bookmarked,
        selfPost=viewer_uid > 0 and post.uid == viewer_uid,
        uploads=[],
        events=[],
    )
    return data


def teaser(post: Post, index: int, author: JSON) -> JSON:
    """A topic's latest post as lists show it (TeaserObject)."""
    return {
        "pid": post.pid,
        "uid": post.uid,
        "tid": post.tid,
        "url": f"/post/{post.pid}",
        "timestamp": post.timestamp,
        "timestampISO": iso(post.timestamp),
        "content": markdown(post.content),
        "sourceContent": None,
        "index": index,
        "user": author,
    }

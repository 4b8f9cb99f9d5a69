"""Topics: create (with the first post) and reply (NodeBB's Topics.post / Topics.reply),
post edits (a main post's edit retitles and retags its topic), delete / restore /
purge, follows, tags and pins."""

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from forum import diffs, payloads, privileges, topic_events
from forum import thumbs as topic_thumbs
from forum.clock import now_ms
from forum.errors import bad_request, forbidden, not_found
from forum.models import Category, Post, Topic, TopicFollow, TopicIgnore, TopicTag, User
from forum.posts import add_post, post_data, post_with_topic, purge_topics, set_topic_deleted
from forum.read.objects import tag_object
from forum.rules import NODEBB, Rules
from forum.text import check_length, clean_tags, slugify
from forum.users import check_muted, get_poster


def _checked_tags(tags: list[str], rules: Rules) -> list[str]:
    cleaned = clean_tags(tags, rules.minimum_tag_length, rules.maximum_tag_length)
    if len(cleaned) < rules.minimum_tags_per_topic:
        raise bad_request("not-enough-tags", rules.minimum_tags_per_topic)
    if len(cleaned) > rules.maximum_tags_per_topic:
        raise bad_request("too-many-tags", rules.maximum_tags_per_topic)
    return cleaned


def _check_content(content: str, rules: Rules) -> None:
    check_length(content, rules.minimum_post_length, rules.maximum_post_length, "content")


def create_topic(
    session: Session,
    actor: int,
    cid: int,
    title: str,
    content: str,
    *,
    tags: list[str] | None = None,
    timestamp: int | None = None,
    thumbs: list[dict[str, str]] | None = None,
    rules: Rules = NODEBB,
) -> dict[str, object]:
    """``thumbs``: files the API found in the upload directory (core's ``topics.create``
    stores the ``thumbs`` it is given with the topic)."""
    poster = get_poster(session, actor)
    admin = privileges.is_admin(session, actor)
    title = title.strip()
    if not admin:
        check_length(title, max(rules.minimum_title_length, 1), rules.maximum_title_length, "title")
    cleaned_tags = _checked_tags(tags or [], rules)
    if not admin:
        _check_content(content, rules)
    category = session.get(Category, cid)
    if category is None:
        raise bad_request("no-category")
    if category.disabled or not privileges.has(session, actor, "topics:create", cid):
        raise bad_request("no-privileges")
    if cleaned_tags and not privileges.has(session, actor, "topics:tag", cid):
        raise bad_request("no-privileges")
    _check_muted(session, poster, cid)

    created = timestamp or now_ms()
    topic = Topic(
        cid=cid, uid=actor, title=title, slug="", main_pid=0, timestamp=created,
        lastposttime=0, postcount=0, viewcount=0, postercount=0, locked=False, pinned=False,
        deleted=False, upvotes=0, downvotes=0,
    )  # fmt: skip
    session.add(topic)
    session.flush()
    topic.slug = f"{topic.tid}/{slugify(title) or 'topic'}"
    if cleaned_tags:
        session.execute(insert(TopicTag), [{"tid": topic.tid, "tag": t} for t in cleaned_tags])
    session.execute(
        update(Category).where(Category.cid == cid).values(topic_count=Category.topic_count + 1)
    )
    session.execute(update(User).where(User.uid == actor).values(topiccount=User.topiccount + 1))
    post = add_post(session, topic, actor, content, created)
    if thumbs:
        topic_thumbs.attach(session, topic.tid, thumbs)
    return payloads.topic_created(session, topic, post, cleaned_tags, now_ms())


def _check_muted(session: Session, poster: User, cid: int) -> None:
    """``isReadyToPost``'s mute check, which admins and the category's moderators skip."""
    if poster.muted and not privileges.is_admin_or_mod(session, poster.uid, cid):
        check_muted(poster)


def _poster(session: Session, actor: int) -> User:
    """``get_poster``, the user kept loaded for the transaction: the session only holds
    objects weakly, and a worker applying a batch of one user's replies then reads the
    user once (``add_post`` leaves it loaded, its counters expired)."""
    poster = get_poster(session, actor)
    session.info.setdefault("forum.posters", {})[actor] = poster
    return poster


def reply(
    session: Session,
    actor: int,
    tid: int,
    content: str,
    *,
    to_pid: int | None = None,
    timestamp: int | None = None,
    rules: Rules = NODEBB,
) -> dict[str, object]:
    poster = _poster(session, actor)
    topic = session.get(Topic, tid, with_for_update=True)
    if topic is None:
        raise not_found("no-topic")
    admin = privileges.is_admin(session, actor)
    if topic.locked and not admin:
        raise bad_request("topic-locked")
    if topic.deleted and not admin:
        raise bad_request("topic-deleted")
    if not privileges.has(session, actor, "topics:reply", topic.cid):
        raise bad_request("no-privileges")
    _check_muted(session, poster, topic.cid)
    if not admin:
        _check_content(content, rules)
    if to_pid is not None and session.get(Post, to_pid) is None:
        to_pid = None  # NodeBB ignores a reply-to target that does not exist
    post = add_post(session, topic, actor, content, timestamp or now_ms(), to_pid=to_pid)
    return payloads.reply_made(session, post, topic, topic_tags(session, tid), now_ms())


def topic_tags(session: Session, tid: int) -> list[str]:
    """The topic's tags in one order whatever the plan (a set-based batch keeps them so)."""
    return list(
        session.scalars(select(TopicTag.tag).where(TopicTag.tid == tid).order_by(TopicTag.tag))
    )


def _topic(session: Session, tid: int) -> Topic:
    topic = session.get(Topic, tid, with_for_update=True)
    if topic is None:
        raise not_found("no-topic")
    return topic


def _may_tag(session: Session, actor: int, cid: int) -> bool:
    return privileges.is_admin(session, actor) or privileges.has(session, actor, "topics:tag", cid)


def _write_tags(session: Session, tid: int, tags: list[str]) -> None:
    session.execute(delete(TopicTag).where(TopicTag.tid == tid))
    if tags:
        session.execute(insert(TopicTag), [{"tid": tid, "tag": t} for t in tags])


def edit_post(
    session: Session,
    actor: int,
    pid: int,
    content: str,
    *,
    title: str | None = None,
    tags: list[str] | None = None,
    tid: int | None = None,
    rules: Rules = NODEBB,
) -> dict[str, object]:
    """Edit a post (NodeBB's ``posts.edit``). ``tid`` (``PUT /topics/:tid``) must be the
    post's topic. On the main post a ``title`` retitles the topic and ``tags`` replace
    its tags; on a reply both are ignored, as in NodeBB."""
    editor = get_poster(session, actor)
    if tid is not None:
        _topic(session, tid)
    post = session.get(Post, pid)
    if post is None and tid is None:
        raise not_found("no-post")
    if post is None or (tid is not None and post.tid != tid):
        raise bad_request("invalid-pid")  # spec decision 5: pid must belong to tid
    post, topic = post_with_topic(session, pid)
    # Length rules apply to everyone here, admins included (NodeBB's API layer).
    _check_content(content, rules)
    if title:
        check_length(title, rules.minimum_title_length, rules.maximum_title_length, "title")
    privileges.require_edit(session, actor, post, topic, rules)

    is_main = topic.main_pid == post.pid
    old_title, current = topic.title, topic_tags(session, topic.tid)
    new_tags = current
    if is_main and tags is not None:
        checked = _checked_tags(tags, rules)
        if set(checked) != set(current):
            if not _may_tag(session, actor, topic.cid):
                raise forbidden("no-privileges")
            _write_tags(session, topic.tid, checked)
            new_tags = checked
    if is_main and title and title.strip():
        topic.title = title.strip()
        topic.slug = f"{topic.tid}/{slugify(topic.title) or 'topic'}"
    old_content, edited = post.content, now_ms()
    post.content = content.rstrip()
    post.edited = edited
    post.editor = actor
    renamed, retagged = topic.title != old_title, new_tags is not current
    if post.content != old_content or renamed or retagged:
        diffs.record(session, post, actor, old_content, edited,
                     old_title=old_title if renamed else None,
                     old_tags=current if retagged else None)  # fmt: skip
    session.flush()
    return {
        "topic": {
            "tid": topic.tid,
            "cid": topic.cid,
            "uid": topic.uid,
            "title": topic.title,
            "oldTitle": old_title,
            "slug": topic.slug,
            "isMainPost": is_main,
            "renamed": topic.title != old_title,
            "tags": [{"value": t} for t in new_tags],
        },
        "editor": {"uid": editor.uid, "username": editor.username, "userslug": editor.userslug},
        "post": {**post_data(post), "cid": topic.cid, "isMain": is_main, "editor": actor},
    }


def restore_diff(
    session: Session, actor: int, pid: int, since: str, *, rules: Rules = NODEBB
) -> dict[str, object]:
    """Core's ``PUT /posts/{pid}/diffs/{since}``: an edit back to the version of
    ``since`` (its title and tags too, on a main post), itself kept in the history.
    Needs ``posts:edit`` on the category, then the edit's own checks."""
    post = session.get(Post, pid)
    if post is None:
        raise not_found("no-post")
    topic = _topic(session, post.tid)
    if not privileges.is_admin(session, actor) and not privileges.has(
        session, actor, "posts:edit", topic.cid
    ):
        raise forbidden("no-privileges")
    privileges.require_edit(session, actor, post, topic, rules)  # the edit's, before all else
    version = diffs.version_at(session, post, topic, diffs.timestamp_of(since))
    is_main = topic.main_pid == pid
    edit_post(session, actor, pid, version.content, rules=rules,
              title=version.title if is_main else None,
              tags=version.tags if is_main else None)  # fmt: skip
    return {}


def delete_topic(
    session: Session, actor: int, tid: int, *, rules: Rules = NODEBB
) -> dict[str, object]:
    """Soft delete: the topic and its posts stay in every counter (see ``forum.posts``)."""
    get_poster(session, actor)
    topic = _topic(session, tid)
    privileges.require_topic_delete(session, actor, topic, rules)
    if topic.deleted:
        raise bad_request("topic-already-deleted")
    set_topic_deleted(session, actor, topic, True)
    return {}


def restore_topic(
    session: Session, actor: int, tid: int, *, rules: Rules = NODEBB
) -> dict[str, object]:
    get_poster(session, actor)
    topic = _topic(session, tid)
    privileges.require_topic_delete(session, actor, topic, rules)
    if not topic.deleted:
        raise bad_request("topic-already-restored")
    set_topic_deleted(session, actor, topic, False)
    return {}


def purge_topic(session: Session, actor: int, tid: int) -> dict[str, object]:
    """Remove the topic and all its posts; every counter loses them."""
    get_poster(session, actor)
    topic = _topic(session, tid)
    privileges.require_purge(session, actor, topic.uid, topic.cid)
    purge_topics(session, lambda t: t.tid == tid)
    return {}


def _set_watching(session: Session, actor: int, tid: int, state: str) -> dict[str, object]:
    """NodeBB's ``setWatching``: a user follows a topic, ignores it, or neither (never
    both): following un-ignores, ignoring unfollows, and unfollowing does both."""
    get_poster(session, actor)
    _topic(session, tid)
    following = session.get(TopicFollow, (tid, actor)) is not None
    ignoring = session.get(TopicIgnore, (tid, actor)) is not None
    if state == "follow" and not following:
        session.add(TopicFollow(tid=tid, uid=actor, created_at=now_ms()))
    elif state != "follow" and following:
        session.execute(delete(TopicFollow).where(TopicFollow.tid == tid, TopicFollow.uid == actor))
    if state == "ignore" and not ignoring:
        session.add(TopicIgnore(tid=tid, uid=actor, created_at=now_ms()))
    elif state != "ignore" and ignoring:
        session.execute(delete(TopicIgnore).where(TopicIgnore.tid == tid, TopicIgnore.uid == actor))
    session.flush()
    # NodeBB sets followercount to the size of tid:<tid>:followers after each change.
    count = select(func.count()).where(TopicFollow.tid == tid).scalar_subquery()
    session.execute(update(Topic).where(Topic.tid == tid).values(followercount=count))
    return {}


def follow_topic(session: Session, actor: int, tid: int) -> dict[str, object]:
    """Following twice, or unfollowing a topic one does not follow, changes nothing."""
    return _set_watching(session, actor, tid, "follow")


def unfollow_topic(session: Session, actor: int, tid: int) -> dict[str, object]:
    """Core's ``DELETE /topics/{tid}/follow`` and ``/ignore``: neither following nor ignoring."""
    return _set_watching(session, actor, tid, "none")


def ignore_topic(session: Session, actor: int, tid: int) -> dict[str, object]:
    """Core's ``PUT /topics/{tid}/ignore``: the topic leaves the user's unread list."""
    return _set_watching(session, actor, tid, "ignore")


def _retag(
    session: Session, actor: int, tid: int, tags: list[str], rules: Rules
) -> dict[str, object]:
    """Tag changes are edits of the main post (spec decision 2) that need ``topics:tag``."""
    get_poster(session, actor)
    topic = _topic(session, tid)
    main = session.get(Post, topic.main_pid)
    if main is None:
        raise not_found("no-post")
    privileges.require_edit(session, actor, main, topic, rules)
    if not _may_tag(session, actor, topic.cid):
        raise forbidden("no-privileges")
    checked = _checked_tags(tags, rules)
    _write_tags(session, tid, checked)
    return {"tags": [tag_object(tag) for tag in checked]}  # core answers the topic's tags


def replace_tags(
    session: Session, actor: int, tid: int, tags: list[str], *, rules: Rules = NODEBB
) -> dict[str, object]:
    """``POST /api/v1/topics/:tid/tags``, ``PUT /api/v2/...``: replace the tag set
    (spec decision 6), cleaned and limited as on topic creation."""
    return _retag(session, actor, tid, tags, rules)


def clear_tags(
    session: Session, actor: int, tid: int, *, rules: Rules = NODEBB
) -> dict[str, object]:
    return _retag(session, actor, tid, [], rules)


def add_tags(
    session: Session, actor: int, tid: int, tags: list[str], *, rules: Rules = NODEBB
) -> dict[str, object]:
    """Core's ``PATCH /topics/{tid}/tags``: the topic's tags and these, checked as a set."""
    return _retag(session, actor, tid, [*topic_tags(session, tid), *tags], rules)


def set_pinned(
    session: Session, actor: int, tid: int, pinned: bool, expiry: int | None = None
) -> dict[str, object]:
    """Pin or unpin: a moderator of the topic's category, or an admin. A pin with an
    ``expiry`` (ms, in the future) ends by itself then; unpinning drops it. Core pins
    before it checks the expiry; here a past one is refused before anything changes."""
    get_poster(session, actor)
    topic = _topic(session, tid)
    privileges.require_admin_or_mod(session, actor, topic.cid)
    if expiry is not None and expiry <= now_ms():
        raise bad_request("invalid-data")
    topic.pinned, topic.pin_expiry = pinned, expiry or 0
    topic_events.record(session, tid, "pin" if pinned else "unpin", actor)
    topic_events.schedule_unpin(session, tid, expiry if pinned else None)
    return {}


def set_locked(session: Session, actor: int, tid: int, locked: bool) -> dict[str, object]:
    """Lock or unlock (replies refused while locked): a moderator or an admin."""
    _moderate(session, actor, tid, locked=locked)
    topic_events.record(session, tid, "lock" if locked else "unlock", actor)
    return {}


def _moderate(session: Session, actor: int, tid: int, **values: bool) -> dict[str, object]:
    get_poster(session, actor)
    topic = _topic(session, tid)
    privileges.require_admin_or_mod(session, actor, topic.cid)
    session.execute(update(Topic).where(Topic.tid == tid).values(**values))
    return {}


def move_topic(session: Session, actor: int, tid: int, cid: int) -> dict[str, object]:
    """Core's ``PUT /topics/{tid}/move``: the topic and its posts to category ``cid``,
    with both categories' counters; a moderator of both, or an admin."""
    get_poster(session, actor)
    topic = _topic(session, tid)
    target = session.get(Category, cid, with_for_update=True)
    if target is None:
        raise bad_request("no-category")
    privileges.require_admin_or_mod(session, actor, topic.cid)
    privileges.require_admin_or_mod(session, actor, cid)
    if topic.cid == cid:
        return {}
    topic_events.record(session, tid, "move", actor, from_cid=topic.cid)
    posts = topic.postcount
    for moved_from, sign in ((topic.cid, -1), (cid, 1)):
        session.execute(
            update(Category)
            .where(Category.cid == moved_from)
            .values(
                topic_count=Category.topic_count + sign,
                post_count=Category.post_count + sign * posts,
            )
        )
    topic.cid = cid
    return {}

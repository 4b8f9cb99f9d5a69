"""Topics: create (with the first post) and reply (NodeBB's Topics.post / Topics.reply)."""

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from forum import privileges
from forum.clock import iso, now_ms
from forum.errors import bad_request, not_found
from forum.models import Category, Post, Topic, TopicTag, User
from forum.posts import add_post, post_data
from forum.text import check_length, clean_tags, slugify
from forum.users import get_poster
from forumq.settings import get_settings


def _checked_tags(tags: list[str]) -> list[str]:
    rules = get_settings()
    cleaned = clean_tags(tags, rules.minimum_tag_length, rules.maximum_tag_length)
    if len(cleaned) < rules.minimum_tags_per_topic:
        raise bad_request("not-enough-tags", rules.minimum_tags_per_topic)
    if len(cleaned) > rules.maximum_tags_per_topic:
        raise bad_request("too-many-tags", rules.maximum_tags_per_topic)
    return cleaned


def _check_content(content: str) -> None:
    rules = get_settings()
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
) -> dict[str, object]:
    rules = get_settings()
    get_poster(session, actor)
    admin = privileges.is_admin(session, actor)
    title = title.strip()
    if not admin:
        check_length(title, max(rules.minimum_title_length, 1), rules.maximum_title_length, "title")
    cleaned_tags = _checked_tags(tags or [])
    if not admin:
        _check_content(content)
    category = session.get(Category, cid)
    if category is None:
        raise bad_request("no-category")
    if category.disabled or not privileges.has(session, actor, "topics:create", cid):
        raise bad_request("no-privileges")
    if cleaned_tags and not privileges.has(session, actor, "topics:tag", cid):
        raise bad_request("no-privileges")

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
    return {"topicData": topic_data(topic, cleaned_tags), "postData": post_data(post, topic)}


def reply(
    session: Session,
    actor: int,
    tid: int,
    content: str,
    *,
    to_pid: int | None = None,
    timestamp: int | None = None,
) -> dict[str, object]:
    get_poster(session, actor)
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
    if not admin:
        _check_content(content)
    if to_pid is not None and session.get(Post, to_pid) is None:
        to_pid = None  # NodeBB ignores a reply-to target that does not exist
    post = add_post(session, topic, actor, content, timestamp or now_ms(), to_pid=to_pid)
    return post_data(post, topic)


def topic_tags(session: Session, tid: int) -> list[str]:
    return list(session.scalars(select(TopicTag.tag).where(TopicTag.tid == tid)))


def topic_data(topic: Topic, tags: list[str]) -> dict[str, object]:
    return {
        "tid": topic.tid,
        "uid": topic.uid,
        "cid": topic.cid,
        "title": topic.title,
        "slug": topic.slug,
        "mainPid": topic.main_pid,
        "postcount": topic.postcount,
        "viewcount": topic.viewcount,
        "postercount": topic.postercount,
        "timestamp": topic.timestamp,
        "timestampISO": iso(topic.timestamp),
        "lastposttime": topic.lastposttime,
        "lastposttimeISO": iso(topic.lastposttime),
        "teaserPid": topic.teaser_pid,
        "deleted": int(topic.deleted),
        "locked": int(topic.locked),
        "pinned": int(topic.pinned),
        "upvotes": topic.upvotes,
        "downvotes": topic.downvotes,
        "votes": topic.upvotes - topic.downvotes,
        "tags": [{"value": t, "valueEscaped": t, "class": t.replace(" ", "-")} for t in tags],
    }

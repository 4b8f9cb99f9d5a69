"""What a topic create or a reply answers: NodeBB's objects for what the write made.

``Topics.post`` answers ``{topicData, postData}``: the topic as topic lists show it
(with its category, author, tags and ``mainPost``) and its first post; ``Topics.reply``
answers the new post's summary (rendered content, author, topic, category). The
plugin's v1/v2 answers and core's v3 answers are both made of these, from the objects
of ``forum.read.objects`` that the read API shows."""

from typing import Any

from sqlalchemy.orm import Session

from forum.models import Category, Post, Topic, User
from forum.read.objects import (
    category_brief,
    post_fields,
    tag_object,
    topic_fields,
    user_summary,
)
from forum.read.render import markdown

JSON = dict[str, Any]


def _topic_brief(topic: Topic, tags: list[str]) -> JSON:
    """The topic fields a post summary carries (``post.topic``)."""
    fields = topic_fields(topic, tags)
    keys = ("uid", "tid", "title", "titleRaw", "cid", "slug", "deleted", "scheduled",
            "timestamp", "timestampISO", "postcount", "mainPid", "teaserPid", "tags",
            "thumbs")  # fmt: skip
    return {key: fields[key] for key in keys}


def post_summary(
    post: Post, topic: Topic, category: Category, author: User | None, tags: list[str], now: int
) -> JSON:
    """``posts.getPostSummaryByPids`` plus what a new post's answer adds (``onNewPost``):
    the content rendered, the author, its topic and category, its index in the topic."""
    data = post_fields(post)
    is_main = post.pid == topic.main_pid
    data.update(
        content=markdown(post.content),
        deleted=bool(post.deleted),
        isMainPost=is_main,
        user=user_summary(author, now),
        topic=_topic_brief(topic, tags),
        category={**category_brief(category), "parentCid": category.parent_cid},
        index=0 if is_main else max(topic.postcount - 1, 1),
        bookmarked=False,
        display_edit_tools=True,
        display_delete_tools=True,
        display_moderator_tools=True,
        display_move_tools=True,
        selfPost=False,
    )
    return data


def topic_created(session: Session, topic: Topic, post: Post, tags: list[str], now: int) -> JSON:
    """``Topics.post``'s answer: ``{topicData, postData}``, ``topicData.mainPost`` the
    first post (as core's v3 answers the topic alone)."""
    category = session.get(Category, topic.cid)
    assert category is not None
    return topic_answer(topic, post, category, session.get(User, topic.uid), tags, now)


def topic_answer(
    topic: Topic, post: Post, category: Category, author: User | None, tags: list[str], now: int
) -> JSON:
    """``topic_created`` from the rows it shows (``forum.bulk.writes`` has them)."""
    post_data = post_summary(post, topic, category, author, tags, now)
    topic_data = topic_fields(topic, tags)
    topic_data.update(
        category=category_brief(category),
        user=user_summary(author, now),
        tags=[tag_object(tag) for tag in tags],
        teaser=None,
        isOwner=True,
        ignored=False,
        followed=False,
        unread=False,
        bookmark=None,
        unreplied=True,
        icons=[],
        index=0,
        mainPost=post_data,
    )
    return {"topicData": topic_data, "postData": post_data}


def reply_made(session: Session, post: Post, topic: Topic, tags: list[str], now: int) -> JSON:
    """``Topics.reply``'s answer: the new post's summary."""
    category = session.get(Category, topic.cid)
    assert category is not None
    return post_summary(post, topic, category, session.get(User, post.uid), tags, now)

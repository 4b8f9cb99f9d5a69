"""What a finished write answers on each router, from its command's result.

The domain's result is the plugin's payload (v1, v2). Core's v3 answers most writes
with an empty ``response`` and a few with an object of their own (nodebb-core.md §1.3,
"Response payloads"). Keyed by command kind, so the waiting request, a replay and
``GET /api/jobs/{id}`` render one job alike."""

from collections.abc import Callable
from typing import Any

from api.envelopes import V3

Shape = Callable[[Any], Any]


def _same(result: Any) -> Any:
    return result


def _topic_with_main_post(result: Any) -> Any:
    """Core's topic create: the topic, its first post as ``mainPost``."""
    return {**result["topicData"], "mainPost": result["postData"]}


def _edited_post(result: Any) -> Any:
    """Core's post edit: the post (its summary: ``deleted`` a boolean) with its topic."""
    post = result["post"]
    return {**post, "deleted": bool(post["deleted"]), "topic": result["topic"]}


def _user(result: Any) -> Any:
    """Core's user object: ``banned`` a boolean."""
    return {**result, "banned": bool(result["banned"])} if "banned" in result else result


def _tags(result: Any) -> Any:
    """Core's tag routes answer the topic's tags (an array of tag objects)."""
    return result.get("tags", []) if isinstance(result, dict) else result


# Kinds whose v3 answer is an object; every other write answers ``{}``.
CORE: dict[str, Shape] = {
    "topics.create": _topic_with_main_post,
    "topics.reply": _same,
    "topics.tags.replace": _tags,
    "topics.tags.add": _tags,
    "topics.thumbs.add": _same,
    "topics.thumbs.delete": _same,
    "topics.thumbs.order": _same,
    "posts.edit": _edited_post,
    "posts.diffs.delete": _same,  # core answers the history left
    "users.create": _user,
    "users.update": _user,
    "categories.create": _same,
    "categories.update": _same,
    "categories.watch": _same,
    "categories.watch.reset": _same,
    "groups.create": _same,
    "groups.update": _same,
    "tokens.create": _same,
    "tokens.admin.create": _same,
    "tokens.roll": _same,
    "tokens.update": _same,
    "chats.send": _same,
    "chats.room.send": _same,
    "chats.room.create": _same,
    "chats.room.update": _same,
    "chats.room.add_users": _same,
    "chats.room.remove_users": _same,
    "chats.message.edit": _same,
    "flags.create": _same,
    "flags.update": _same,
    "flags.notes.append": _same,
    "flags.notes.delete": _same,
}


def payload(router: str, kind: str, result: Any) -> Any:
    """``result`` (a job's, as the domain returned it) as ``router`` answers it."""
    if router != V3:
        return result
    shape = CORE.get(kind)
    return {} if shape is None else shape(result)

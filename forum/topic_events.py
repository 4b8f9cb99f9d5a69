"""A topic's events (NodeBB's ``topic:<tid>:events``): who pinned, unpinned, locked,
unlocked, deleted, restored or moved it, and when. The writes that do so record them
(``record``, in their own transaction); core's ``GET /topics/{tid}/events`` lists them
and ``DELETE /topics/{tid}/events/{eventId}`` removes one (moderators and admins)."""

from sqlalchemy import delete
from sqlalchemy.orm import Session

from forum import privileges
from forum.clock import now_ms
from forum.errors import forbidden, not_found
from forum.models import Topic, TopicEvent
from forum.users import get_user

# type -> (icon, translation key prefix): NodeBB's Events._types of forumq's writes.
TYPES = {
    "pin": ("fa-thumb-tack", "topic:user-pinned-topic"),
    "unpin": ("fa-thumb-tack fa-rotate-90", "topic:user-unpinned-topic"),
    "lock": ("fa-lock", "topic:user-locked-topic"),
    "unlock": ("fa-unlock", "topic:user-unlocked-topic"),
    "delete": ("fa-trash", "topic:user-deleted-topic"),
    "restore": ("fa-trash-o", "topic:user-restored-topic"),
    "move": ("fa-arrow-circle-right", "topic:user-moved-topic-from"),
}


def record(
    session: Session, tid: int, type_: str, uid: int, *, from_cid: int | None = None
) -> None:
    """``Topics.events.log``: ``uid`` did ``type_`` to the topic, now."""
    session.add(TopicEvent(tid=tid, type=type_, uid=uid, timestamp=now_ms(), from_cid=from_cid))


def delete_event(session: Session, actor: int, tid: int, event_id: int) -> dict[str, object]:
    """Core's ``DELETE /topics/{tid}/events/{eventId}``: for those who may read the
    topic and moderate its category; an id not of this topic changes nothing."""
    get_user(session, actor)
    topic = session.get(Topic, tid)
    if topic is None:
        raise not_found("no-topic")
    if not privileges.has(session, actor, "topics:read", topic.cid) or not (
        privileges.is_admin_or_mod(session, actor, topic.cid)
    ):
        raise forbidden()
    session.execute(delete(TopicEvent).where(TopicEvent.tid == tid, TopicEvent.id == event_id))
    return {}

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


def schedule_unpin(session: Session, tid: int, expiry: int | None) -> None:
    """A pin's end by itself: core's ``checkPinExpiry`` logs an ``unpin`` by the system
    user when it unpins an expired pin. Here it is recorded with the pin, dated at
    ``expiry`` (uid 0: the schema's ``uid`` is a number) and listed from then on; a
    later pin or unpin drops the one still to come."""
    now = now_ms()
    session.execute(
        delete(TopicEvent).where(TopicEvent.tid == tid, TopicEvent.type == "unpin",
                                 TopicEvent.uid == 0, TopicEvent.timestamp > now)
    )  # fmt: skip
    if expiry:
        session.add(TopicEvent(tid=tid, type="unpin", uid=0, timestamp=expiry))


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
    # An expiry's unpin still to come is not listed yet, so not removable either.
    listed = (TopicEvent.tid == tid, TopicEvent.id == event_id, TopicEvent.timestamp <= now_ms())
    session.execute(delete(TopicEvent).where(*listed))
    return {}

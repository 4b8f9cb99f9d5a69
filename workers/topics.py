from sqlalchemy.orm import Session

from forum.topics import create_topic, reply
from schemas.topics import CreateTopic, ReplyTopic
from workers.registry import handles


@handles(CreateTopic)
def apply_create_topic(session: Session, actor: int, command: CreateTopic) -> dict[str, object]:
    return create_topic(
        session, actor, command.cid, command.title, command.content,
        tags=list(command.tags), timestamp=command.timestamp,
    )  # fmt: skip


@handles(ReplyTopic)
def apply_reply(session: Session, actor: int, command: ReplyTopic) -> dict[str, object]:
    return reply(
        session, actor, command.tid, command.content,
        to_pid=command.to_pid, timestamp=command.timestamp,
    )  # fmt: skip

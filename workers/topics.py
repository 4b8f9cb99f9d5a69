from sqlalchemy.orm import Session

from forum import topics
from forum.rules import Rules
from schemas.topics import (
    ClearTopicTags,
    CreateTopic,
    DeleteTopic,
    EditTopicPost,
    FollowTopic,
    PinTopic,
    PurgeTopic,
    ReplaceTopicTags,
    ReplyTopic,
    RestoreTopic,
    UnfollowTopic,
    UnpinTopic,
)
from workers.registry import handles

Payload = dict[str, object]


@handles(CreateTopic)
def apply_create_topic(session: Session, actor: int, command: CreateTopic, rules: Rules) -> Payload:
    return topics.create_topic(
        session, actor, command.cid, command.title, command.content,
        tags=list(command.tags), timestamp=command.timestamp, rules=rules)  # fmt: skip


@handles(ReplyTopic)
def apply_reply(session: Session, actor: int, command: ReplyTopic, rules: Rules) -> Payload:
    return topics.reply(
        session, actor, command.tid, command.content,
        to_pid=command.to_pid, timestamp=command.timestamp, rules=rules)  # fmt: skip


@handles(EditTopicPost)
def apply_edit(session: Session, actor: int, command: EditTopicPost, rules: Rules) -> Payload:
    return topics.edit_post(
        session, actor, command.pid, command.content, title=command.title,
        tags=None if command.tags is None else list(command.tags), tid=command.tid,
        rules=rules)  # fmt: skip


@handles(DeleteTopic)
def apply_delete(session: Session, actor: int, command: DeleteTopic, rules: Rules) -> Payload:
    return topics.delete_topic(session, actor, command.tid, rules=rules)


@handles(RestoreTopic)
def apply_restore(session: Session, actor: int, command: RestoreTopic, rules: Rules) -> Payload:
    return topics.restore_topic(session, actor, command.tid, rules=rules)


@handles(PurgeTopic)
def apply_purge(session: Session, actor: int, command: PurgeTopic) -> Payload:
    return topics.purge_topic(session, actor, command.tid)


@handles(FollowTopic)
def apply_follow(session: Session, actor: int, command: FollowTopic) -> Payload:
    return topics.follow_topic(session, actor, command.tid)


@handles(UnfollowTopic)
def apply_unfollow(session: Session, actor: int, command: UnfollowTopic) -> Payload:
    return topics.unfollow_topic(session, actor, command.tid)


@handles(ReplaceTopicTags)
def apply_replace_tags(
    session: Session, actor: int, command: ReplaceTopicTags, rules: Rules
) -> Payload:
    return topics.replace_tags(session, actor, command.tid, list(command.tags), rules=rules)


@handles(ClearTopicTags)
def apply_clear_tags(
    session: Session, actor: int, command: ClearTopicTags, rules: Rules
) -> Payload:
    return topics.clear_tags(session, actor, command.tid, rules=rules)


@handles(PinTopic)
def apply_pin(session: Session, actor: int, command: PinTopic) -> Payload:
    return topics.set_pinned(session, actor, command.tid, True)


@handles(UnpinTopic)
def apply_unpin(session: Session, actor: int, command: UnpinTopic) -> Payload:
    return topics.set_pinned(session, actor, command.tid, False)

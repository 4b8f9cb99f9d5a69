from sqlalchemy.orm import Session

from forum import bookmarks, posts, topics, votes
from forum.rules import Rules
from schemas.posts import (
    BookmarkPost,
    DeletePost,
    EditPost,
    PurgePost,
    RestorePost,
    UnbookmarkPost,
    UnvotePost,
    VotePost,
)
from workers.registry import handles

Payload = dict[str, object]


@handles(EditPost)
def apply_edit(session: Session, actor: int, command: EditPost, rules: Rules) -> Payload:
    # forum.topics owns the edit: a main post's edit retitles and retags its topic.
    return topics.edit_post(
        session, actor, command.pid, command.content, title=command.title,
        tags=None if command.tags is None else list(command.tags), rules=rules)  # fmt: skip


@handles(DeletePost)
def apply_delete(session: Session, actor: int, command: DeletePost, rules: Rules) -> Payload:
    return posts.delete_post(session, actor, command.pid, rules=rules)


@handles(RestorePost)
def apply_restore(session: Session, actor: int, command: RestorePost, rules: Rules) -> Payload:
    return posts.restore_post(session, actor, command.pid, rules=rules)


@handles(PurgePost)
def apply_purge(session: Session, actor: int, command: PurgePost) -> Payload:
    return posts.purge_post(session, actor, command.pid)


@handles(VotePost)
def apply_vote(session: Session, actor: int, command: VotePost) -> Payload:
    return votes.vote(session, actor, command.pid, command.delta)


@handles(UnvotePost)
def apply_unvote(session: Session, actor: int, command: UnvotePost) -> Payload:
    return votes.unvote(session, actor, command.pid)


@handles(BookmarkPost)
def apply_bookmark(session: Session, actor: int, command: BookmarkPost) -> Payload:
    return bookmarks.bookmark(session, actor, command.pid)


@handles(UnbookmarkPost)
def apply_unbookmark(session: Session, actor: int, command: UnbookmarkPost) -> Payload:
    return bookmarks.unbookmark(session, actor, command.pid)

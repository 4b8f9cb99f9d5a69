"""Who may do what: administrators, groups and per-category privileges.

Grants live in ``category_privileges`` (cid 0 holds global ones). ``registered-users``
is implicit for every uid > 0, so millions of imported users need no membership rows.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import event, exists, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from forum.clock import now_ms
from forum.errors import bad_request, forbidden
from forum.models import CategoryPrivilege, GroupMember, Post, Topic, User
from forum.rules import Rules

ADMINISTRATORS = "administrators"
GLOBAL_MODERATORS = "Global Moderators"
REGISTERED_USERS = "registered-users"
GUESTS = "guests"
SPIDERS = "spiders"
SYSTEM_GROUPS = (ADMINISTRATORS, GLOBAL_MODERATORS, REGISTERED_USERS, GUESTS, SPIDERS)

MEMBER_PRIVILEGES = (
    "find", "read", "topics:read", "topics:create", "topics:reply", "topics:crosspost",
    "topics:tag", "posts:edit", "posts:history", "posts:delete", "posts:upvote",
    "posts:downvote", "topics:delete",
)  # fmt: skip
MODERATOR_PRIVILEGES = (*MEMBER_PRIVILEGES, "topics:schedule", "posts:view_deleted", "purge")
GUEST_PRIVILEGES = ("find", "read", "topics:read")
# Every privilege a category grant may name (nodebb-core.md §4.2), and the global ones (cid 0).
CATEGORY_PRIVILEGES = (*MODERATOR_PRIVILEGES, "moderate")
GLOBAL_PRIVILEGES = (
    "chat", "chat:privileged", "upload:post:image", "upload:post:file", "signature", "invite",
    "group:create", "search:content", "search:users", "search:tags", "view:users", "view:tags",
    "view:groups", "local:login", "ban", "mute", "view:users:info",
    "admin:dashboard", "admin:categories", "admin:privileges", "admin:admins-mods",
    "admin:users", "admin:groups", "admin:tags", "admin:settings",
)  # fmt: skip
# A grant naming this prefix (``groups:topics:create``) goes to a group; without it, to a uid.
GROUP_PREFIX = "groups:"

DEFAULT_GRANTS: dict[str, tuple[str, ...]] = {
    REGISTERED_USERS: MEMBER_PRIVILEGES,
    ADMINISTRATORS: MODERATOR_PRIVILEGES,
    GLOBAL_MODERATORS: MODERATOR_PRIVILEGES,
    GUESTS: GUEST_PRIVILEGES,
    SPIDERS: GUEST_PRIVILEGES,
}


# Answers are remembered for the rest of the session's transaction (a worker's batch
# asks the same questions for every job), and forgotten as soon as the session writes
# group memberships or grants, or the transaction ends.
_MEMO = "forumq.privileges"
_WATCHED = frozenset({GroupMember.__tablename__, CategoryPrivilege.__tablename__})


def _memo(session: Session) -> dict[tuple[object, ...], bool]:
    return session.info.setdefault(_MEMO, {})


def _remembered(session: Session, key: tuple[object, ...], query: Any) -> bool:
    memo = _memo(session)
    if key not in memo:
        memo[key] = bool(session.scalar(query))
    return memo[key]


@event.listens_for(Session, "do_orm_execute")
def _forget_on_dml(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and table.name in _WATCHED:
        state.session.info.pop(_MEMO, None)


@event.listens_for(Session, "before_flush")
def _forget_on_flush(session: Session, _context: object, _instances: object) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, GroupMember | CategoryPrivilege) for obj in touched):
        session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_MEMO, None)


def is_admin(session: Session, uid: int | None) -> bool:
    if not uid:
        return False
    query = select(exists().where(GroupMember.group_name == ADMINISTRATORS, GroupMember.uid == uid))
    return _remembered(session, ("admin", uid), query)


def require_admin(session: Session, actor: int | None) -> None:
    """``actor`` None is the operator (CLI, offline import): trusted."""
    if actor is not None and not is_admin(session, actor):
        raise forbidden("no-privileges")


def implicit_groups(uid: int) -> list[str]:
    return [REGISTERED_USERS] if uid > 0 else [GUESTS]


def has(session: Session, uid: int, privilege: str, cid: int) -> bool:
    """Does ``uid`` hold ``privilege`` on category ``cid`` (by a group or directly)?"""
    member_of = select(GroupMember.group_name).where(GroupMember.uid == uid)
    query = select(
        exists().where(
            CategoryPrivilege.cid == cid,
            CategoryPrivilege.privilege == privilege,
            or_(
                CategoryPrivilege.uid == uid,
                CategoryPrivilege.group_name.in_(implicit_groups(uid)),
                CategoryPrivilege.group_name.in_(member_of),
            ),
        )
    )
    return _remembered(session, ("has", uid, privilege, cid), query)


def preload(session: Session, uids: Iterable[int], cids: Iterable[int],
            names: Sequence[str]) -> None:  # fmt: skip
    """Answer, in two queries, what ``is_admin``, ``is_moderator`` and ``has`` (for
    ``names``) will be asked about ``uids`` on ``cids``, by the same rules, into the
    transaction's memo: a set-based batch then checks each job without a query."""
    members = sorted({uid for uid in uids if uid > 0})
    wanted = sorted(set(cids))
    if not members or not wanted:
        return
    groups: dict[int, set[str]] = {uid: set() for uid in members}
    for uid, group_name in session.execute(
        select(GroupMember.uid, GroupMember.group_name).where(GroupMember.uid.in_(members))
    ):
        groups[uid].add(group_name)
    asked = sorted({*names, "moderate"})
    grants: dict[tuple[int, str], list[tuple[str | None, int | None]]] = {}
    for cid, privilege, group_name, grantee in session.execute(
        select(CategoryPrivilege.cid, CategoryPrivilege.privilege, CategoryPrivilege.group_name,
               CategoryPrivilege.uid)
        .where(CategoryPrivilege.cid.in_(wanted), CategoryPrivilege.privilege.in_(asked))
    ):  # fmt: skip
        grants.setdefault((cid, privilege), []).append((group_name, grantee))
    memo = _memo(session)
    for uid in members:
        # ``has``: a grant to the uid, to one of its implicit groups or to a group it is in.
        holds = groups[uid] | set(implicit_groups(uid))
        memo[("admin", uid)] = ADMINISTRATORS in groups[uid]
        memo[("member", uid, GLOBAL_MODERATORS)] = GLOBAL_MODERATORS in groups[uid]
        for cid in wanted:
            for privilege in asked:
                memo[("has", uid, privilege, cid)] = any(
                    grantee == uid or group_name in holds
                    for group_name, grantee in grants.get((cid, privilege), ())
                )


def default_grants(cid: int) -> list[dict[str, object]]:
    return [
        {"cid": cid, "privilege": privilege, "group_name": group, "uid": None}
        for group, privileges in DEFAULT_GRANTS.items()
        for privilege in privileges
    ]


def in_group(session: Session, uid: int, group_name: str) -> bool:
    query = select(exists().where(GroupMember.group_name == group_name, GroupMember.uid == uid))
    return _remembered(session, ("member", uid, group_name), query)


def is_moderator(session: Session, uid: int, cid: int) -> bool:
    """A global moderator, or holder of ``moderate`` on ``cid`` (NodeBB's isModerator)."""
    if uid <= 0:
        return False
    return in_group(session, uid, GLOBAL_MODERATORS) or has(session, uid, "moderate", cid)


def is_admin_or_mod(session: Session, uid: int, cid: int) -> bool:
    return is_admin(session, uid) or is_moderator(session, uid, cid)


# Object-level checks (NodeBB's privileges.posts / privileges.topics). Refusals of the
# privilege itself are 403 (spec decision 2); the forum's own rules (locked topic, an
# expired window, already deleted) stay 400 with NodeBB's key (decision 8).


def _expired(timestamp: int, seconds: int) -> bool:
    return seconds > 0 and now_ms() - timestamp > seconds * 1000


def require_edit(
    session: Session,
    actor: int,
    post: Post,
    topic: Topic,
    rules: Rules,
    reputation: int | None = None,
) -> None:
    """``privileges.posts.canEdit``: admins; moderators; the owner with ``posts:edit``
    within the edit window, on an open topic, on a post nobody else deleted.
    ``reputation``: the actor's, when the caller holds it (a set-based batch)."""
    if is_admin(session, actor):
        return
    if is_moderator(session, actor, topic.cid):
        return
    if post.uid != actor or not has(session, actor, "posts:edit", topic.cid):
        raise forbidden("no-privileges")
    if _expired(post.timestamp, rules.post_edit_duration):
        raise bad_request("post-edit-duration-expired", rules.post_edit_duration)
    if reputation is None:
        reputation = session.scalar(select(User.reputation).where(User.uid == actor)) or 0
    if reputation < rules.newbie_reputation_threshold and _expired(
        post.timestamp, rules.newbie_post_edit_duration
    ):
        raise bad_request("post-edit-duration-expired", rules.newbie_post_edit_duration)
    if topic.locked:
        raise bad_request("topic-locked")
    if post.deleted and post.deleter_uid != actor:
        raise bad_request("post-deleted")


def require_post_delete(
    session: Session, actor: int, post: Post, topic: Topic, rules: Rules
) -> None:
    """``privileges.posts.canDelete`` (also guards restore)."""
    if is_admin(session, actor) or is_moderator(session, actor, topic.cid):
        return
    if post.uid != actor or not has(session, actor, "posts:delete", topic.cid):
        raise forbidden("no-privileges")
    if post.deleter_uid not in (0, post.uid):  # deleted by a moderator: theirs to undo
        raise forbidden("no-privileges")
    if topic.locked:
        raise bad_request("topic-locked")
    if _expired(post.timestamp, rules.post_delete_duration):
        raise bad_request("post-delete-duration-expired", rules.post_delete_duration)


def require_topic_delete(session: Session, actor: int, topic: Topic, rules: Rules) -> None:
    """``privileges.topics.canDelete`` (also guards restore)."""
    if is_admin(session, actor):
        return
    moderator = is_moderator(session, actor, topic.cid)
    if not has(session, actor, "topics:delete", topic.cid):
        raise forbidden("no-privileges")
    if moderator:
        return
    if topic.uid != actor or topic.deleter_uid not in (0, topic.uid):
        raise forbidden("no-privileges")
    limit = rules.prevent_topic_delete_after_replies
    if limit and topic.postcount - 1 >= limit:
        if limit > 1:
            raise bad_request("cant-delete-topic-has-replies", limit)
        raise bad_request("cant-delete-topic-has-reply")


def require_purge(session: Session, actor: int, owner_uid: int, cid: int) -> None:
    """``canPurge`` of posts and topics: ``purge`` plus (owner or moderator), or admin.

    By default only administrators and Global Moderators hold ``purge``."""
    if is_admin(session, actor):
        return
    allowed = has(session, actor, "purge", cid) and (
        owner_uid == actor or is_moderator(session, actor, cid)
    )
    if not allowed:
        raise forbidden("no-privileges")


def require_admin_or_mod(session: Session, actor: int, cid: int) -> None:
    """Lock and pin: a category moderator or an admin."""
    if not is_admin_or_mod(session, actor, cid):
        raise forbidden("no-privileges")

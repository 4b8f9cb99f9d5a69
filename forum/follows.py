"""Users following users (NodeBB's ``User.follow`` / ``User.unfollow``)."""

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from forum.clock import now_ms
from forum.errors import bad_request
from forum.models import User, UserFollow
from forum.users import get_user


def follow(session: Session, actor: int, uid: int) -> dict[str, object]:
    """``actor`` starts following ``uid``; both counters move with the row."""
    get_user(session, actor)
    get_user(session, uid)
    if actor == uid:
        raise bad_request("you-cant-follow-yourself")
    pair = (UserFollow.follower_uid == actor, UserFollow.followee_uid == uid)
    if session.scalar(select(exists().where(*pair))):
        raise bad_request("already-following")
    # A concurrent duplicate fails on the primary key and rolls back with its counters.
    session.add(UserFollow(follower_uid=actor, followee_uid=uid, created_at=now_ms()))
    session.flush()
    _count(session, actor, uid, +1)
    return {}


def unfollow(session: Session, actor: int, uid: int) -> dict[str, object]:
    get_user(session, uid)
    removed = session.execute(
        delete(UserFollow).where(UserFollow.follower_uid == actor, UserFollow.followee_uid == uid)
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise bad_request("not-following")
    _count(session, actor, uid, -1)
    return {}


def _count(session: Session, follower: int, followee: int, delta: int) -> None:
    session.execute(
        update(User)
        .where(User.uid == follower)
        .values(following_count=User.following_count + delta)
    )
    session.execute(
        update(User).where(User.uid == followee).values(follower_count=User.follower_count + delta)
    )

from sqlalchemy.orm import Session

from forum import bans, follows, users
from schemas.users import (
    BanUser,
    ChangePassword,
    CreateUser,
    DeleteUser,
    FollowUser,
    UnbanUser,
    UnfollowUser,
    UpdateProfile,
)
from workers.registry import handles

Payload = dict[str, object]


@handles(CreateUser)
def apply_create_user(session: Session, actor: int, command: CreateUser) -> Payload:
    user = users.create_user(
        session, actor, command.username, password_hash=command.password_hash,
        email=command.email,
    )  # fmt: skip
    return {"uid": user.uid}


@handles(UpdateProfile)
def apply_update_profile(session: Session, actor: int, command: UpdateProfile) -> Payload:
    return users.update_profile(session, actor, command.uid, command.changes())


@handles(DeleteUser)
def apply_delete_user(session: Session, actor: int, command: DeleteUser) -> Payload:
    return users.delete_user(session, actor, command.uid)


@handles(ChangePassword)
def apply_change_password(session: Session, actor: int, command: ChangePassword) -> Payload:
    return users.change_password(
        session, actor, command.uid, command.password_hash, command.current_ok
    )


@handles(FollowUser)
def apply_follow(session: Session, actor: int, command: FollowUser) -> Payload:
    return follows.follow(session, actor, command.uid)


@handles(UnfollowUser)
def apply_unfollow(session: Session, actor: int, command: UnfollowUser) -> Payload:
    return follows.unfollow(session, actor, command.uid)


@handles(BanUser)
def apply_ban(session: Session, actor: int, command: BanUser) -> Payload:
    return bans.ban(session, actor, command.uid, until=command.until, reason=command.reason)


@handles(UnbanUser)
def apply_unban(session: Session, actor: int, command: UnbanUser) -> Payload:
    return bans.unban(session, actor, command.uid)

from sqlalchemy.orm import Session

from forum import tokens
from schemas.tokens import AdminCreateToken, AdminRevokeToken, CreateToken, RevokeToken, RollToken
from workers.registry import handles

Payload = dict[str, object]


@handles(CreateToken)
def apply_create_token(session: Session, actor: int, command: CreateToken) -> dict[str, object]:
    return tokens.create_user_token(session, actor, command.uid, command.token_hash, command.prefix)


@handles(RevokeToken)
def apply_revoke_token(session: Session, actor: int, command: RevokeToken) -> dict[str, object]:
    return tokens.revoke(session, actor, command.uid, command.token_hash)


@handles(AdminCreateToken)
def apply_admin_create(session: Session, actor: int, command: AdminCreateToken) -> Payload:
    return tokens.admin_create(session, actor, command.uid, command.token_hash, command.prefix)


@handles(AdminRevokeToken)
def apply_admin_revoke(session: Session, actor: int, command: AdminRevokeToken) -> Payload:
    return tokens.admin_revoke(session, actor, command.token_hash)


@handles(RollToken)
def apply_roll(session: Session, actor: int, command: RollToken) -> Payload:
    return tokens.roll(session, actor, command.token_hash, command.new_hash, command.prefix)

from sqlalchemy.orm import Session

from forum import tokens
from schemas.tokens import CreateToken, RevokeToken
from workers.registry import handles


@handles(CreateToken)
def apply_create_token(session: Session, actor: int, command: CreateToken) -> dict[str, object]:
    return tokens.create_user_token(session, actor, command.uid, command.token_hash, command.prefix)


@handles(RevokeToken)
def apply_revoke_token(session: Session, actor: int, command: RevokeToken) -> dict[str, object]:
    return tokens.revoke(session, actor, command.uid, command.token_hash)

from sqlalchemy.orm import Session

from forum.users import create_user
from schemas.users import CreateUser
from workers.registry import handles


@handles(CreateUser)
def apply_create_user(session: Session, actor: int, command: CreateUser) -> dict[str, object]:
    user = create_user(
        session, actor, command.username, password=command.password, email=command.email
    )
    return {"uid": user.uid}

"""Which domain operation applies which command."""

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from schemas import Command

C = TypeVar("C", bound=Command)
Handler = Callable[[Session, int, Any], Any]
HANDLERS: dict[type[Command], Handler] = {}


def handles(command_type: type[C]) -> Callable[[Callable[[Session, int, C], Any]], Handler]:
    def register(handler: Callable[[Session, int, C], Any]) -> Handler:
        HANDLERS[command_type] = handler
        return handler

    return register


def run(session: Session, actor: int, command: Command) -> Any:
    """Apply ``command`` as ``actor``; returns the route's success payload."""
    return HANDLERS[type(command)](session, actor, command)

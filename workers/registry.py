"""Which domain operation applies which command.

Each resource module of this package (``workers/topics.py``, ...) registers its
handlers with ``@handles``; ``load_handlers`` imports them all.
"""

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from schemas import Command

C = TypeVar("C", bound=Command)
Handler = Callable[[Session, int, Any], Any]
HANDLERS: dict[type[Command], Handler] = {}
INFRASTRUCTURE = {"apply", "broker", "celery_app", "notify", "registry", "sweeper"}


def load_handlers() -> None:
    import workers

    for module in pkgutil.iter_modules(workers.__path__):
        if module.name not in INFRASTRUCTURE:
            importlib.import_module(f"workers.{module.name}")


def handles(command_type: type[C]) -> Callable[[Callable[[Session, int, C], Any]], Handler]:
    def register(handler: Callable[[Session, int, C], Any]) -> Handler:
        HANDLERS[command_type] = handler
        return handler

    return register


def run(session: Session, actor: int, command: Command) -> Any:
    """Apply ``command`` as ``actor``; returns the route's success payload."""
    return HANDLERS[type(command)](session, actor, command)

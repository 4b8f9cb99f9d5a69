"""Which domain operation applies which command.

Each resource module of this package (``workers/topics.py``, ...) registers its
handlers with ``@handles``; ``load_handlers`` imports them all. A handler that applies
a forum rule takes the ``rules`` the worker was composed with as a fourth argument.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from forum.rules import Rules
from schemas import Command

C = TypeVar("C", bound=Command)
Handler = Callable[..., Any]
HANDLERS: dict[type[Command], Handler] = {}
# The handlers that take the rules.
RULED: set[type[Command]] = set()
INFRASTRUCTURE = {"apply", "celery_app", "delivery", "notify", "registry", "sweeper"}


def load_handlers() -> None:
    import workers

    for module in pkgutil.iter_modules(workers.__path__):
        if module.name not in INFRASTRUCTURE:
            importlib.import_module(f"workers.{module.name}")


def handles(command_type: type[C]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[command_type] = handler
        if "rules" in inspect.signature(handler).parameters:
            RULED.add(command_type)
        return handler

    return register


def run(session: Session, actor: int, command: Command, rules: Rules) -> Any:
    """Apply ``command`` as ``actor`` under ``rules``; returns the route's success payload."""
    kind = type(command)
    if kind in RULED:
        return HANDLERS[kind](session, actor, command, rules)
    return HANDLERS[kind](session, actor, command)

"""Commands: the one schema the API writes and the workers read.

Every ``Command`` subclass defined in a module of this package (one module per
resource) joins the discriminated union on ``kind``.
"""

import importlib
import pkgutil
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from schemas.commands import Command


def _command_types() -> tuple[type[Command], ...]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: list[type[Command]] = []
    pending = list(Command.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if isinstance(cls.model_fields["kind"].default, str):  # concrete, not a base
            found.append(cls)
    return tuple(sorted(found, key=lambda cls: cls.model_fields["kind"].default))


COMMAND_TYPES = _command_types()
AnyCommand: Any = Annotated[Union[COMMAND_TYPES], Field(discriminator="kind")]  # noqa: UP007
command_adapter: TypeAdapter[Command] = TypeAdapter(AnyCommand)


def load_command(data: dict[str, object]) -> Command:
    return command_adapter.validate_python(data)


def dump_command(command: Command) -> dict[str, object]:
    return command.model_dump(mode="json")


__all__ = ["COMMAND_TYPES", "AnyCommand", "Command", "dump_command", "load_command"]

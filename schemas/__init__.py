"""Commands: the one schema the API writes and the workers read."""

from typing import Annotated

from pydantic import Field, TypeAdapter

from schemas.categories import CreateCategory
from schemas.commands import Command
from schemas.tokens import CreateToken, RevokeToken
from schemas.topics import CreateTopic, ReplyTopic
from schemas.users import CreateUser

AnyCommand = Annotated[
    CreateUser | CreateToken | RevokeToken | CreateCategory | CreateTopic | ReplyTopic,
    Field(discriminator="kind"),
]
command_adapter: TypeAdapter[Command] = TypeAdapter(AnyCommand)


def load_command(data: dict[str, object]) -> Command:
    return command_adapter.validate_python(data)


def dump_command(command: Command) -> dict[str, object]:
    return command.model_dump(mode="json")


__all__ = ["AnyCommand", "Command", "dump_command", "load_command"]

from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command, NonEmpty


class CreateUser(Command):
    kind: Literal["users.create"] = "users.create"
    username: Annotated[NonEmpty, Field(max_length=255)]
    password: Annotated[str, Field(max_length=512)] | None = None
    email: Annotated[str, Field(max_length=255)] | None = None

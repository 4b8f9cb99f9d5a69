from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command, NonEmpty

Short = Annotated[str, Field(max_length=255)]


class CreateCategory(Command):
    kind: Literal["categories.create"] = "categories.create"
    name: Annotated[NonEmpty, Field(max_length=255)]
    description: Annotated[str, Field(max_length=65535)] = ""
    parent_cid: Annotated[int, Field(ge=0, alias="parentCid")] = 0
    order: int | None = None
    bg_color: Annotated[Short | None, Field(alias="bgColor")] = None
    color: Short | None = None
    icon: Short | None = None
    css_class: Annotated[Short | None, Field(alias="class")] = None

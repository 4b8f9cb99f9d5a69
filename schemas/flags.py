from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command, Id, Text, Timestamp

FlagId = Annotated[Id, Field(alias="flagId")]


class CreateFlag(Command):
    """Core's ``POST /flags``: report post or user ``id``. Another ``type`` is refused by
    the forum with core's ``invalid-data`` (not a validation error): the document states
    the two."""

    kind: Literal["flags.create"] = "flags.create"
    type: Annotated[str, Field(max_length=16, json_schema_extra={"enum": ["post", "user"]})]
    id: Id
    reason: Annotated[Text, Field(max_length=65535)]


class UpdateFlag(Command):
    """``state`` (open, wip, resolved, rejected) and ``assignee``; others are ignored."""

    kind: Literal["flags.update"] = "flags.update"
    flag_id: FlagId
    state: Annotated[str | None, Field(max_length=16)] = None
    assignee: Id | None = None


class DeleteFlag(Command):
    kind: Literal["flags.delete"] = "flags.delete"
    flag_id: FlagId


class RescindFlagReport(Command):
    kind: Literal["flags.report.rescind"] = "flags.report.rescind"
    flag_id: FlagId


class AppendFlagNote(Command):
    """A note; ``datetime`` names the caller's note it replaces."""

    kind: Literal["flags.notes.append"] = "flags.notes.append"
    flag_id: FlagId
    note: Annotated[Text, Field(max_length=65535)]
    datetime: Timestamp | None = None


class DeleteFlagNote(Command):
    kind: Literal["flags.notes.delete"] = "flags.notes.delete"
    flag_id: FlagId
    datetime: Timestamp

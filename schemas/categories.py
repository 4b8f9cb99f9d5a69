from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from schemas.commands import Command, Id, NonEmpty

Short = Annotated[str, Field(max_length=255)]
# The columns' own widths (models.Category): longer values would fail in the worker.
Color = Annotated[str, Field(max_length=32)]
Css = Annotated[str, Field(max_length=64)]
Url = Annotated[str, Field(max_length=1024)]
Cid = Annotated[int, Field(ge=0, lt=2**63)]
Name = Annotated[NonEmpty, Field(max_length=255)]
Description = Annotated[str, Field(max_length=65535)]
Order = Annotated[int, Field(ge=-(2**31), lt=2**31)]


class CreateCategory(Command):
    kind: Literal["categories.create"] = "categories.create"
    name: Name
    description: Description = ""
    parent_cid: Annotated[Cid, Field(alias="parentCid")] = 0
    order: Order | None = None
    bg_color: Annotated[Color | None, Field(alias="bgColor")] = None
    color: Color | None = None
    icon: Css | None = None
    css_class: Annotated[Css | None, Field(alias="class")] = None


class UpdateCategory(Command):
    """The fields an update may set (None: unchanged). The API refuses any other body
    field, so counters, ids and slugs cannot be mass-assigned."""

    kind: Literal["categories.update"] = "categories.update"
    cid: Id
    name: Name | None = None
    description: Description | None = None
    bg_color: Annotated[Color | None, Field(alias="bgColor")] = None
    color: Color | None = None
    parent_cid: Annotated[Cid | None, Field(alias="parentCid")] = None
    background_image: Annotated[Url | None, Field(alias="backgroundImage")] = None
    order: Order | None = None
    icon: Css | None = None
    css_class: Annotated[Css | None, Field(alias="class")] = None


class PurgeCategory(Command):
    """Remove the category with all its topics and posts."""

    kind: Literal["categories.purge"] = "categories.purge"
    cid: Id


class EnableCategory(Command):
    kind: Literal["categories.enable"] = "categories.enable"
    cid: Id


class DisableCategory(Command):
    kind: Literal["categories.disable"] = "categories.disable"
    cid: Id


def _as_list(value: object) -> object:
    """One value or an array; numbers (uids) become strings."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (list, tuple)):
        return tuple(str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                     for v in value)  # fmt: skip
    return value


Names = Annotated[
    tuple[Annotated[NonEmpty, Field(max_length=255)], ...],
    Field(min_length=1, max_length=100),
    BeforeValidator(_as_list),
]


class GrantPrivileges(Command):
    """Grant each of ``privileges`` to each of ``groups`` on ``cid`` (0: global).
    ``groups:<privilege>`` grants to groups by name; a bare privilege to users by uid."""

    kind: Literal["categories.privileges.grant"] = "categories.privileges.grant"
    cid: Cid
    privileges: Names
    groups: Names


class RevokePrivileges(Command):
    kind: Literal["categories.privileges.revoke"] = "categories.privileges.revoke"
    cid: Cid
    privileges: Names
    groups: Names


WatchState = Literal["ignoring", "notwatching", "tracking", "watching"]


class SetCategoryWatch(Command):
    """Core's ``PUT /categories/{cid}/watch``: ``state`` for the caller, or for ``uid``
    (admins and global moderators), on the category and its descendants."""

    kind: Literal["categories.watch"] = "categories.watch"
    cid: Id
    state: WatchState
    uid: Cid | None = None  # 0 or none: the caller


class ResetCategoryWatch(Command):
    """Core's ``DELETE /categories/{cid}/watch[/{member}]``: back to the default state."""

    kind: Literal["categories.watch.reset"] = "categories.watch.reset"
    cid: Id
    uid: Cid | None = None

from typing import Annotated, Literal

from pydantic import Field

from schemas.commands import Command


class SetMaintenance(Command):
    """Maintenance mode on (``POST /util/maintenance``) or off (``DELETE``)."""

    kind: Literal["util.maintenance"] = "util.maintenance"
    enabled: bool


class UpdateSetting(Command):
    """Core's ``PUT /admin/settings/{setting}``: one config value (a number, or its text)."""

    kind: Literal["admin.settings.set"] = "admin.settings.set"
    setting: Annotated[str, Field(min_length=1, max_length=64)]
    value: Annotated[str, Field(max_length=32)] | Annotated[int, Field(ge=0, lt=2**31)]

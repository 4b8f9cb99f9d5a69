from typing import Annotated, Literal

from pydantic import BaseModel, Field

from schemas.commands import Command

# The largest value a setting holds (forum.settings_store.MAXIMUM_SETTING).
MAXIMUM_SETTING = 2**31 - 1
# Whitespace that str.strip() takes and that every JSON Schema regex dialect knows.
_SPACE = "[ \\t\\n\\r]*"


def at_most(limit: int) -> str:
    """A regex of the decimal numbers 0..``limit`` (leading zeros allowed)."""
    digits = str(limit)
    shorter = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    same = [
        f"{digits[:i]}[0-{int(digit) - 1}][0-9]{{{len(digits) - i - 1}}}"
        for i, digit in enumerate(digits)
        if digit != "0"
    ]
    return f"0*(?:{'|'.join([*shorter, *same, digits])})"


def setting_text(number: str) -> dict[str, str]:
    """A setting's value as text (a form's): ``number``, whitespace around it."""
    return {"pattern": f"^{_SPACE}{number}{_SPACE}$"}


class SetMaintenance(Command):
    """Maintenance mode on (``POST /util/maintenance``) or off (``DELETE``)."""

    kind: Literal["util.maintenance"] = "util.maintenance"
    enabled: bool


class UpdateSetting(Command):
    """Core's ``PUT /admin/settings/{setting}``: one config value (a number, or its text),
    checked by the forum against the setting. A rule setting's: 0 to 2**31 - 1."""

    kind: Literal["admin.settings.set"] = "admin.settings.set"
    setting: Annotated[str, Field(min_length=1, max_length=64)]
    value: (
        Annotated[
            str, Field(max_length=32, json_schema_extra=setting_text(at_most(MAXIMUM_SETTING)))
        ]
        | Annotated[int, Field(ge=0, le=MAXIMUM_SETTING)]
    )


class MaintenanceModeValue(BaseModel):
    """The body of ``PUT /admin/settings/maintenanceMode``: 1 on, 0 off."""

    value: (
        Annotated[str, Field(max_length=32, json_schema_extra=setting_text("[01]"))]
        | Annotated[int, Field(ge=0, le=1)]
    )


class OffValue(BaseModel):
    """The body of a setting forumq keeps off (``postQueue``, ...): 0, saying so."""

    value: (
        Annotated[str, Field(max_length=32, json_schema_extra=setting_text("0+"))]
        | Annotated[int, Field(ge=0, le=0)]
    )

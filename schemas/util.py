from typing import Literal

from schemas.commands import Command


class SetMaintenance(Command):
    """Maintenance mode on (``POST /util/maintenance``) or off (``DELETE``)."""

    kind: Literal["util.maintenance"] = "util.maintenance"
    enabled: bool

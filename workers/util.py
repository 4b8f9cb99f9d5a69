from sqlalchemy.orm import Session

from forum.settings_store import set_maintenance_mode
from schemas.util import SetMaintenance
from workers.registry import handles


@handles(SetMaintenance)
def apply_set_maintenance(
    session: Session, actor: int, command: SetMaintenance
) -> dict[str, object]:
    return set_maintenance_mode(session, actor, command.enabled)

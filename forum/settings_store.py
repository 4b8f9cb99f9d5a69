"""Runtime forum settings an admin changes over the API (``forum_settings`` rows).

Values are strings, as NodeBB keeps its config hash (``maintenanceMode`` is "1" or "0").
"""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from forum.models import ForumSetting
from forum.privileges import require_admin

MAINTENANCE_MODE = "maintenanceMode"


def get(session: Session, key: str, default: str | None = None) -> str | None:
    value = session.scalar(select(ForumSetting.value).where(ForumSetting.key == key))
    return default if value is None else value


def put(session: Session, key: str, value: str) -> None:
    """Insert or overwrite ``key`` in one statement, so concurrent writers never
    collide on the primary key."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ForumSetting).values(key=key, value=value)
    statement = statement.on_conflict_do_update(
        index_elements=[ForumSetting.key], set_={"value": statement.excluded.value}
    )
    session.execute(statement)


def maintenance_mode(session: Session) -> bool:
    return get(session, MAINTENANCE_MODE, "0") == "1"


def set_maintenance_mode(session: Session, actor: int | None, enabled: bool) -> dict[str, object]:
    """Turn maintenance mode on or off (admins only). While on, only admins write."""
    require_admin(session, actor)
    put(session, MAINTENANCE_MODE, "1" if enabled else "0")
    return {}

"""Run the Alembic migrations shipped in ``forum/migrations``."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


class MigrationRefused(RuntimeError):
    """A revision found data it cannot migrate and changed nothing; its message says
    what the operator must fix first (``forumq migrate`` prints it, no traceback)."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    """The revision ``upgrade`` brings a database to."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(database_url: str) -> str | None:
    """The database's revision; None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    from forum.db import engine_for

    with engine_for(database_url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

"""ids never reused on SQLite: AUTOINCREMENT on the tables whose ids clients keep

NodeBB never gives an id twice (its ``global.next*`` counters only grow), and clients
store uids, cids, tids and pids. A SQLite ``INTEGER PRIMARY KEY`` without AUTOINCREMENT
hands out the largest rowid again once that row is deleted: a purged topic's tid went
to the next topic. AUTOINCREMENT keeps the largest id ever used in ``sqlite_sequence``.
SQLite cannot add it to a table, so each one is rebuilt (its rows and ids kept; ids
deleted before this revision are not known to it). PostgreSQL's sequences never go
back: nothing changes there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "categories", "topics", "posts", "chat_rooms", "chat_messages", "api_tokens")
# Batch mode cannot reflect an expression index on SQLite: dropped and built again.
EMAIL_INDEX = "ix_users_email_lower"


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index(EMAIL_INDEX, table_name="users")
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    op.create_index(EMAIL_INDEX, "users", [sa.text("lower(email)")], unique=True)


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)

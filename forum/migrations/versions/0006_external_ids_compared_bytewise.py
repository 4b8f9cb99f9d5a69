"""external_id columns: collation "C" on PostgreSQL

External ids are an importer's keys, never sorted for people to read. Compared by the
database's language rules (libc strcoll), each probe of their unique indexes costs
more than with plain byte comparison, and a bulk import makes one per row it inserts
and per reference it looks up. Equality is unchanged: deterministic collations only
call strings equal when their bytes are. SQLite compares bytes already.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "categories", "topics", "posts")


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:  # rebuilds each table's external_id unique index
        op.execute(
            f'ALTER TABLE {table} ALTER COLUMN external_id TYPE varchar(255) COLLATE "{collation}"'
        )


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")

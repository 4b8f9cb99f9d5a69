"""jobs.command: stored out of line without compression

A bulk job's command is its items, packed (zlib, then base64): some 280 kB per 10,000
items that PostgreSQL would try to compress again on every insert, and fail (it keeps a
value only if it shrinks by a quarter). STORAGE EXTERNAL skips that attempt; the small
commands of single writes stay in their row as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs ALTER COLUMN command SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs ALTER COLUMN command SET STORAGE EXTENDED")

"""users: fillfactor 80, so counter updates stay on their page

A user's counters (postcount, topiccount, lastposttime) change with every post, in bulk
imports thousands of users per chunk. With full pages (the default fillfactor 100, and
always after a COPY) each such UPDATE writes its new row version elsewhere and adds an
entry to every unique index of ``users``; with free room on the page it is a HOT update,
which touches no index. Rows written before this revision keep their pages until they
are rewritten (VACUUM FULL or CLUSTER) or move on a later update.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE users SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE users RESET (fillfactor)")

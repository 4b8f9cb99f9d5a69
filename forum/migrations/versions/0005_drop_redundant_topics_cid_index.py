"""topics: drop ix_topics_cid, which ix_topics_cid_lastposttime already covers

Every lookup by category (a category's topic list, the foreign-key check when a category
is deleted) can use the leading column of (cid, lastposttime). The lone (cid) index only
cost every topic insert one more B-tree entry: COPYing 500,000 imported topics took
11-12.6 s without it against 13.1-13.8 s with it (BENCHMARKS.md, fourth session).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_topics_cid", table_name="topics")


def downgrade() -> None:
    op.create_index("ix_topics_cid", "topics", ["cid"], unique=False)

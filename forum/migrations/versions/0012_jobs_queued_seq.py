"""jobs_queued_seq: a worker claims the oldest queued jobs (ORDER BY seq) on a partial
index of queued jobs, however many finished jobs the table keeps.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = sa.text("state = 'queued'")


def upgrade() -> None:
    op.create_index(
        "ix_jobs_queued_seq", "jobs", ["seq"], postgresql_where=QUEUED, sqlite_where=QUEUED
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_queued_seq", table_name="jobs")

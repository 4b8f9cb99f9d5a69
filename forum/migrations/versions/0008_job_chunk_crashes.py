"""job_chunk_crashes: deliveries of a bulk chunk that died, so a poison item is isolated

A chunk whose worker process dies (a segfault, an OOM kill) is delivered again; each such
delivery counts the crash here, in a transaction of its own, before it applies anything.
A chunk seen dying is split in two, and an item alone fails once it reached max_attempts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_chunk_crashes",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("first_index", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("crashes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_job_chunk_crashes_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "job_id", "first_index", "count", name=op.f("pk_job_chunk_crashes")
        ),
    )


def downgrade() -> None:
    op.drop_table("job_chunk_crashes")

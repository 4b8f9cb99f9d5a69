"""topic_reads: when each user last read each topic (NodeBB's ``uid:<uid>:tids_read``),
for ``/api/unread``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "topic_reads",
        sa.Column("uid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("read_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uid"], ["users.uid"], name=op.f("fk_topic_reads_uid_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tid"], ["topics.tid"], name=op.f("fk_topic_reads_tid_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("uid", "tid", name=op.f("pk_topic_reads")),
    )
    # A topic's purge deletes its markers (the cascade looks them up by tid).
    op.create_index(op.f("ix_topic_reads_tid"), "topic_reads", ["tid"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_topic_reads_tid"), table_name="topic_reads")
    op.drop_table("topic_reads")

"""topic_thumbs: a topic's thumbnails (core's ``/api/v3/topics/{tid}/thumbs``).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "topic_thumbs",
        sa.Column("tid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tid"], ["topics.tid"], ondelete="CASCADE",
                                name=op.f("fk_topic_thumbs_tid_topics")),
        sa.PrimaryKeyConstraint("tid", "path", name=op.f("pk_topic_thumbs")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("topic_thumbs")

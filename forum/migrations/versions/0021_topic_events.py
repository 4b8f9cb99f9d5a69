"""topic_events: a topic's history of pins, locks, deletes, restores and moves (core's
``/api/v3/topics/{tid}/events``).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 00:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "topic_events",
        sa.Column("id", Id, nullable=False),
        sa.Column("tid", Id, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("from_cid", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["tid"], ["topics.tid"], ondelete="CASCADE",
                                name=op.f("fk_topic_events_tid_topics")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_events")),
        sqlite_autoincrement=True,  # event ids are never given twice (0011)
    )  # fmt: skip
    op.create_index(op.f("ix_topic_events_tid"), "topic_events", ["tid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_topic_events_tid"), table_name="topic_events")
    op.drop_table("topic_events")

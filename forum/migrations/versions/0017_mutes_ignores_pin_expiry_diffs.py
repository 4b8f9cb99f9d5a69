"""mutes, topic ignores, pin expiry and post edit history (core's v3 routes)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZERO = sa.text("0")


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite: its AUTOINCREMENT and expression
    # index stay as they are).
    op.add_column(
        "users", sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.text("false"))
    )
    op.add_column("users", sa.Column("muted_until", sa.BigInteger(), nullable=False,
                                     server_default=ZERO))  # fmt: skip
    op.add_column(
        "users", sa.Column("muted_reason", sa.Text(), nullable=False, server_default=sa.text("''"))
    )
    op.add_column("topics", sa.Column("pin_expiry", sa.BigInteger(), nullable=False,
                                      server_default=ZERO))  # fmt: skip
    op.create_table(
        "topic_ignores",
        sa.Column("tid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tid"], ["topics.tid"], ondelete="CASCADE",
                                name=op.f("fk_topic_ignores_tid_topics")),
        sa.ForeignKeyConstraint(["uid"], ["users.uid"], ondelete="CASCADE",
                                name=op.f("fk_topic_ignores_uid_users")),
        sa.PrimaryKeyConstraint("tid", "uid", name=op.f("pk_topic_ignores")),
    )  # fmt: skip
    op.create_index(op.f("ix_topic_ignores_uid"), "topic_ignores", ["uid"])
    op.create_table(
        "post_diffs",
        sa.Column("pid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["pid"], ["posts.pid"], ondelete="CASCADE",
                                name=op.f("fk_post_diffs_pid_posts")),
        sa.PrimaryKeyConstraint("pid", "timestamp", name=op.f("pk_post_diffs")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("post_diffs")
    op.drop_index(op.f("ix_topic_ignores_uid"), table_name="topic_ignores")
    op.drop_table("topic_ignores")
    # SQLite 3.35+ drops a column in place, as PostgreSQL does.
    op.drop_column("topics", "pin_expiry")
    for column in ("muted_reason", "muted_until", "muted"):
        op.drop_column("users", column)

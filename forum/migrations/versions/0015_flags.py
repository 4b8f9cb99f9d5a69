"""flags: flagged posts and users, their reports, moderators' notes and history

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Flag ids are never given twice (0011): SQLite's AUTOINCREMENT.
NEVER_REUSED = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "flags",
        sa.Column("flag_id", Id, nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("target_uid", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.BigInteger(), nullable=True),
        sa.Column("datetime", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("flag_id", name=op.f("pk_flags")),
        sa.UniqueConstraint("type", "target_id", name=op.f("uq_flags_type")),
        **NEVER_REUSED,
    )
    op.create_table(
        "flag_reports",
        sa.Column("flag_id", Id, nullable=False),
        sa.Column("uid", Id, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.flag_id"], name=op.f("fk_flag_reports_flag_id_flags"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uid"], ["users.uid"], name=op.f("fk_flag_reports_uid_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("flag_id", "uid", name=op.f("pk_flag_reports")),
    )  # fmt: skip
    op.create_index(op.f("ix_flag_reports_uid"), "flag_reports", ["uid"])
    op.create_table(
        "flag_notes",
        sa.Column("flag_id", Id, nullable=False),
        sa.Column("datetime", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.flag_id"], name=op.f("fk_flag_notes_flag_id_flags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flag_id", "datetime", name=op.f("pk_flag_notes")),
    )  # fmt: skip
    op.create_table(
        "flag_history",
        sa.Column("id", Id, nullable=False),
        sa.Column("flag_id", Id, nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("datetime", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.flag_id"], name=op.f("fk_flag_history_flag_id_flags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_history")),
        **NEVER_REUSED,
    )  # fmt: skip
    op.create_index(op.f("ix_flag_history_flag_id"), "flag_history", ["flag_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_flag_history_flag_id"), table_name="flag_history")
    op.drop_table("flag_history")
    op.drop_table("flag_notes")
    op.drop_index(op.f("ix_flag_reports_uid"), table_name="flag_reports")
    op.drop_table("flag_reports")
    op.drop_table("flags")

"""chat_reads: how far each member has read each chat room (NodeBB's
``uid:<uid>:chat:rooms:unread``), for ``GET /api/v3/chats/unread`` and rooms' ``unread``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_reads",
        sa.Column("uid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("room_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("read_mid", sa.BigInteger(), nullable=False),
        sa.Column("marked_unread", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uid"], ["users.uid"], name=op.f("fk_chat_reads_uid_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["chat_rooms.room_id"],
            name=op.f("fk_chat_reads_room_id_chat_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uid", "room_id", name=op.f("pk_chat_reads")),
    )
    # A room's deletion deletes its markers (the cascade looks them up by room).
    op.create_index(op.f("ix_chat_reads_room_id"), "chat_reads", ["room_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_reads_room_id"), table_name="chat_reads")
    op.drop_table("chat_reads")

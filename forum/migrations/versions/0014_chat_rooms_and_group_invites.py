"""chat rooms and group invites: room names and owners, message state, invitations

Core's chat rooms have a name, owners (who rename the room, remove members and pin
messages) and messages that are edited, deleted, restored and pinned; a group's owner
invites users. Every member of an existing room becomes its owner: forumq's rooms so
far were one-to-one, and core makes both users of such a room owners.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): SQLite keeps the tables' AUTOINCREMENT (0011).
    op.add_column(
        "chat_rooms", sa.Column("room_name", sa.String(255), nullable=False, server_default="")
    )
    op.add_column(
        "chat_room_members",
        sa.Column("is_owner", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(sa.text("UPDATE chat_room_members SET is_owner = true"))
    for name in ("deleted",):
        op.add_column(
            "chat_messages",
            sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()),
        )
    for name in ("edited", "pinned_at"):
        op.add_column(
            "chat_messages", sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "group_invites",
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("uid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invited_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_name"],
            ["groups.name"],
            name=op.f("fk_group_invites_group_name_groups"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uid"], ["users.uid"], name=op.f("fk_group_invites_uid_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_name", "uid", name=op.f("pk_group_invites")),
    )
    op.create_index(op.f("ix_group_invites_uid"), "group_invites", ["uid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_group_invites_uid"), table_name="group_invites")
    op.drop_table("group_invites")
    for table, columns in (
        ("chat_messages", ("pinned_at", "edited", "deleted")),
        ("chat_room_members", ("is_owner",)),
        ("chat_rooms", ("room_name",)),
    ):
        # SQLite rebuilds the table: chat rooms and messages keep AUTOINCREMENT (0011).
        kwargs = {} if table == "chat_room_members" else {"sqlite_autoincrement": True}
        with op.batch_alter_table(table, table_kwargs=kwargs) as batch:
            for column in columns:
                batch.drop_column(column)

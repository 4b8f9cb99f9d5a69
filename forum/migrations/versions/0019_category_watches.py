"""category_watches: each user's watch state of a category (core's
``PUT /api/v3/categories/{cid}/watch``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "category_watches",
        sa.Column("cid", ID, nullable=False),
        sa.Column("uid", ID, nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["cid"], ["categories.cid"], ondelete="CASCADE",
                                name=op.f("fk_category_watches_cid_categories")),
        sa.ForeignKeyConstraint(["uid"], ["users.uid"], ondelete="CASCADE",
                                name=op.f("fk_category_watches_uid_users")),
        sa.PrimaryKeyConstraint("cid", "uid", name=op.f("pk_category_watches")),
    )  # fmt: skip
    op.create_index(op.f("ix_category_watches_uid"), "category_watches", ["uid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_category_watches_uid"), table_name="category_watches")
    op.drop_table("category_watches")

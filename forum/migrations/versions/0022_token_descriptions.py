"""api_tokens.description: core's descriptor of a token (``PUT /api/v3/admin/tokens/{token}``).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite: its AUTOINCREMENT stays).
    op.add_column(
        "api_tokens",
        sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")),
    )


def downgrade() -> None:
    op.drop_column("api_tokens", "description")

"""topics: ix_topics_lastposttime, for the forum-wide lists of the read API

``/api/recent`` (and ``/api/unread``, a tag's topics) lists topics of every readable
category by last reply, newest first: without an index on lastposttime alone each
request sorted every topic of the forum (ix_topics_cid_lastposttime serves one
category's page, not a list across categories).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_topics_lastposttime", "topics", ["lastposttime"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_topics_lastposttime", table_name="topics")

"""bulk results: one job_chunks row per applied chunk instead of one job_items row per item

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:00:00.000000
"""

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from forum.jobqueue.chunks import pack_results, unpack_results

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ITEM_COLUMNS = {
    "index": sa.Integer,
    "type": sa.String,
    "external_id": sa.String,
    "state": sa.String,
    "forum_id": sa.BigInteger,
    "error": sa.JSON(none_as_null=True),
}


def _job_items_table() -> sa.Table:
    return sa.table(
        "job_items",
        sa.column("job_id", sa.String),
        *(sa.column(name, type_) for name, type_ in _ITEM_COLUMNS.items()),
    )


def _job_chunks_table() -> sa.Table:
    return sa.table(
        "job_chunks",
        sa.column("job_id", sa.String),
        sa.column("first_index", sa.Integer),
        sa.column("last_index", sa.Integer),
        sa.column("count", sa.Integer),
        sa.column("results", sa.LargeBinary),
    )


def upgrade() -> None:
    op.create_table(
        "job_chunks",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("first_index", sa.Integer(), nullable=False),
        sa.Column("last_index", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("results", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_chunks_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "first_index", name=op.f("pk_job_chunks")),
    )
    # Results recorded so far become one record per job (one job at a time in memory).
    conn = op.get_bind()
    items = _job_items_table()
    rows = conn.execute(
        sa.select(items.c.job_id, *(items.c[name] for name in _ITEM_COLUMNS)).order_by(
            items.c.job_id, items.c.index
        )
    )
    for job_id, group in groupby(rows, key=lambda row: row[0]):
        records = [[int(r[1]), r[2], r[3], r[4], None if r[5] is None else int(r[5]), r[6]]
                   for r in group]  # fmt: skip
        conn.execute(sa.insert(_job_chunks_table()), [{
            "job_id": job_id, "first_index": records[0][0], "last_index": records[-1][0],
            "count": len(records), "results": pack_results(records),
        }])  # fmt: skip
    op.drop_table("job_items")


def downgrade() -> None:
    op.create_table(
        "job_items",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("forum_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_items_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "index", name=op.f("pk_job_items")),
    )
    conn = op.get_bind()
    chunks = _job_chunks_table()
    for job_id, packed in conn.execute(sa.select(chunks.c.job_id, chunks.c.results)):
        conn.execute(sa.insert(_job_items_table()), [
            {"job_id": job_id, **dict(zip(_ITEM_COLUMNS, record, strict=True))}
            for record in unpack_results(packed)
        ])  # fmt: skip
    op.drop_table("job_chunks")

"""users: e-mail addresses unique whatever their case

NodeBB keys addresses in lower case (``email:uid``), so "A@x.org" and "a@x.org" are one
address. A unique index on lower(email) says so in the database: the checks in
``forum.users`` look addresses up through it (no scan of users per write or per import
chunk), and a concurrent write of the same address in another case is refused by it.
It replaces the case-sensitive unique constraint, which it makes redundant (one index
less to maintain per new user).

Rows that already differ only in case would make the index fail: the revision stops
first and names them, for the operator to decide which user keeps the address (it
changes no data itself).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from forum.migrate import MigrationRefused

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_users_email_lower"
LISTED = 50  # addresses named in the error; the rest are counted


class CaseDuplicateEmails(MigrationRefused):
    """Users hold addresses that differ only in case: the index cannot be built."""


def upgrade() -> None:
    _refuse_case_duplicates()
    with op.batch_alter_table("users") as batch_op:  # SQLite: the table is rebuilt
        batch_op.drop_constraint("uq_users_email", type_="unique")
    op.create_index(INDEX, "users", [sa.text("lower(email)")], unique=True)


def downgrade() -> None:
    # Unique in any case implies unique as written: the constraint always fits again.
    op.drop_index(INDEX, table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.create_unique_constraint("uq_users_email", ["email"])


def _refuse_case_duplicates() -> None:
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT uid, email FROM users WHERE lower(email) IN ("
                " SELECT lower(email) FROM users WHERE email IS NOT NULL"
                " GROUP BY lower(email) HAVING count(*) > 1)"
                " ORDER BY lower(email), uid"
            )
        )
        .all()
    )
    if not rows:
        return
    named = ", ".join(f"{email} (uid {uid})" for uid, email in rows[:LISTED])
    more = f" and {len(rows) - LISTED} more" if len(rows) > LISTED else ""
    raise CaseDuplicateEmails(
        f"{len(rows)} users hold e-mail addresses that differ only in case, which the "
        f"case-insensitive unique index {INDEX} cannot allow: {named}{more}. Give each "
        "address to one user (change or clear the others' email), then migrate again; "
        "nothing was changed."
    )

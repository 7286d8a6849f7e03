"""jobs and job items: ids are never reused on SQLite (AUTOINCREMENT)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00

Migration 0004 did this for images. Jobs kept SQLite's default (the largest id plus one), so
deleting the newest job handed its id to the next job, whoever submitted it: an event stream,
a bookmark or a retried DELETE still holding the old id reached another user's job. Job items
get the same treatment (every owned row). Both tables are recreated with their rows, indexes
and foreign keys. Job items refer to jobs, and SQLite (foreign keys on) refuses to drop a
table that rows refer to, so the items wait in a plain copy while both tables are recreated,
then go back with their ids. PostgreSQL's sequences never reuse ids: nothing to do.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("jobs", "job_items")
PARKED = "_job_items_during_0005"


def _recreate(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    columns = ", ".join(
        f'"{column["name"]}"' for column in sa.inspect(bind).get_columns("job_items")
    )
    op.execute(f"CREATE TABLE {PARKED} AS SELECT {columns} FROM job_items")
    op.execute("DELETE FROM job_items")
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    op.execute(f"INSERT INTO job_items ({columns}) SELECT {columns} FROM {PARKED}")
    op.execute(f"DROP TABLE {PARKED}")


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)

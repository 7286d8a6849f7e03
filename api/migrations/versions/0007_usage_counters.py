"""user_usage: per-user counters the quotas are enforced on; sizes of batch outputs and zips

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:30:00

Quotas were checked by counting rows, then inserting: concurrent requests all passed the
check. Each user now has one `user_usage` row (images, stored bytes, active jobs) that grows
only through a conditional UPDATE in the transaction that adds what it counts. Batch outputs
and archives count against stored bytes too, so their sizes are kept on their rows.

The counters start from the rows already stored. Outputs and archives of jobs from before
this revision have no recorded size and count as 0 (they expire after RESULT_TTL_HOURS).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_usage",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("active_jobs", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    # ADD COLUMN: no table is recreated (job items refer to jobs).
    op.add_column("jobs", sa.Column("result_size_bytes", sa.BigInteger(), nullable=True))
    op.add_column("job_items", sa.Column("output_size_bytes", sa.BigInteger(), nullable=True))
    op.execute(
        """
        INSERT INTO user_usage (user_id, images, stored_bytes, active_jobs)
        SELECT users.id,
               (SELECT count(*) FROM images WHERE images.owner_id = users.id),
               (SELECT coalesce(sum(images.size_bytes
                                    + coalesce(images.processed_size_bytes, 0)), 0)
                  FROM images WHERE images.owner_id = users.id),
               (SELECT count(*) FROM jobs WHERE jobs.owner_id = users.id
                                            AND jobs.status IN ('queued', 'processing'))
          FROM users
        """
    )


def downgrade() -> None:
    op.drop_column("job_items", "output_size_bytes")
    op.drop_column("jobs", "result_size_bytes")
    op.drop_table("user_usage")

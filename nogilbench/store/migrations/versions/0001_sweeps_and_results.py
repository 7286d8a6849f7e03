"""sweeps and results

Revision ID: 0001
Revises:
Create Date: 2026-11-21 23:46:59.341570
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("host", sa.JSON(), nullable=False),
        sa.Column("interpreters", sa.JSON(), nullable=False),
        sa.Column("library_versions", sa.JSON(), nullable=False),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("cell_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sweeps_name"), ["name"], unique=True)

    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("workload", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("interpreter", sa.String(length=80), nullable=False),
        sa.Column("interpreter_path", sa.String(length=1000), nullable=False),
        sa.Column("interpreter_version", sa.String(length=80), nullable=False),
        sa.Column("free_threaded_build", sa.Boolean(), nullable=False),
        sa.Column("gil_requested", sa.Boolean(), nullable=True),
        sa.Column("gil_enabled", sa.Boolean(), nullable=True),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("wall_median_s", sa.Float(), nullable=True),
        sa.Column("wall_min_s", sa.Float(), nullable=True),
        sa.Column("wall_max_s", sa.Float(), nullable=True),
        sa.Column("wall_times_s", sa.JSON(), nullable=False),
        sa.Column("per_image_ms", sa.Float(), nullable=True),
        sa.Column("throughput_ips", sa.Float(), nullable=True),
        sa.Column("speedup", sa.Float(), nullable=True),
        sa.Column("efficiency", sa.Float(), nullable=True),
        sa.Column("cpu_percent", sa.Float(), nullable=True),
        sa.Column("cpu_per_core", sa.JSON(), nullable=False),
        sa.Column("peak_rss_mb", sa.Float(), nullable=True),
        sa.Column("spread", sa.Float(), nullable=True),
        sa.Column("startup_ms", sa.Float(), nullable=True),
        sa.Column("cores", sa.Integer(), nullable=False),
        sa.Column("oversubscribed", sa.Boolean(), nullable=False),
        sa.Column("start_method", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sweep_id"],
            ["sweeps.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "sweep_id",
            "workload",
            "method",
            "workers",
            "images",
            "interpreter",
            name="uq_result_cell",
        ),
    )
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_results_sweep_id"), ["sweep_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_results_sweep_id"))

    op.drop_table("results")
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sweeps_name"))

    op.drop_table("sweeps")

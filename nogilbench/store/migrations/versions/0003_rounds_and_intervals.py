"""interleaved rounds: measurements, round orders, sweep lease, intervals on results

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESULT_FLOATS = (
    "wall_low_s", "wall_high_s", "wall_confidence", "speedup_low", "speedup_high",
    "speedup_default", "speedup_default_low", "speedup_default_high", "ideal_speedup",
    "efficiency_low", "efficiency_high", "cpu_resolution",
)  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("results") as batch_op:
        for name in RESULT_FLOATS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("anomaly", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("memory_kind", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("digest", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("workers_observed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("wall_rounds", sa.JSON(), nullable=True))
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), sa.ForeignKey("sweeps.id"), nullable=False),
        sa.Column("workload", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("interpreter", sa.String(length=80), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("wall_s", sa.Float(), nullable=True),
        sa.Column("cpu_s", sa.Float(), nullable=True),
        sa.Column("cpu_per_core", sa.JSON(), nullable=False),
        sa.Column("peak_memory_mb", sa.Float(), nullable=True),
        sa.Column("memory_kind", sa.String(length=10), nullable=True),
        sa.Column("startup_ms", sa.Float(), nullable=True),
        sa.Column("cell_wall_s", sa.Float(), nullable=True),
        sa.Column("gil_enabled", sa.Boolean(), nullable=True),
        sa.Column("workers_observed", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=40), nullable=True),
        sa.Column("load_1m", sa.Float(), nullable=True),
        sa.Column("steal_percent", sa.Float(), nullable=True),
        sa.Column("cpu_mhz", sa.Float(), nullable=True),
        sa.Column("sampler_cpu_percent", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "sweep_id", "workload", "method", "workers", "images", "interpreter", "round",
            name="uq_measurement_round",
        ),
    )  # fmt: skip
    op.create_index("ix_measurements_sweep_id", "measurements", ["sweep_id"])
    op.create_table(
        "sweep_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), sa.ForeignKey("sweeps.id"), nullable=False),
        sa.Column("workload", sa.String(length=40), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("order", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sweep_id", "workload", "images", "round", name="uq_sweep_round"),
    )
    op.create_index("ix_sweep_rounds_sweep_id", "sweep_rounds", ["sweep_id"])


def downgrade() -> None:
    op.drop_index("ix_sweep_rounds_sweep_id", table_name="sweep_rounds")
    op.drop_table("sweep_rounds")
    op.drop_index("ix_measurements_sweep_id", table_name="measurements")
    op.drop_table("measurements")
    with op.batch_alter_table("results") as batch_op:
        for name in (*RESULT_FLOATS, "anomaly", "memory_kind", "digest", "workers_observed",
                     "wall_rounds"):  # fmt: skip
            batch_op.drop_column(name)
    with op.batch_alter_table("sweeps") as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")

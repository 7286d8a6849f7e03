"""sessions a user can end, refresh grace, job leases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 21:20:00

users.sessions_revoked_at: access tokens issued before it are refused (log out everywhere).
refresh_tokens.parent_jti / family_started_at: the grace window for the immediate
predecessor and the family's absolute lifetime. jobs.claimed_by / lease_expires_at /
attempts: atomic claiming with a lease that a heartbeat renews.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sessions_revoked_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_jti", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("family_started_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_parent_jti"), ["parent_jti"], unique=False
        )

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(
            batch_op.f("ix_jobs_lease_expires_at"), ["lease_expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_lease_expires_at"))
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("claimed_by")

    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_parent_jti"))
        batch_op.drop_column("family_started_at")
        batch_op.drop_column("parent_jti")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("sessions_revoked_at")

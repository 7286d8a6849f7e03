"""refresh_tokens.successor_jti: the grace window returns the same successor

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00

A refresh marks its token used and names the successor in one conditional UPDATE, so of
concurrent refreshes of one token exactly one mints a successor; the others (and a replay
within REFRESH_GRACE_SECONDS) are given that same successor instead of a new chain. Tokens
used before this revision have no successor recorded: presenting them again is a replay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("successor_jti", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("successor_jti")

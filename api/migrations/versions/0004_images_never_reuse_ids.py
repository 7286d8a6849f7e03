"""images: ids are never reused on SQLite (AUTOINCREMENT)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 22:40:00

SQLite gives a new row the largest id plus one, so deleting the newest image and uploading
another handed out the deleted image's id again: a client still holding the old id would read
the new image instead of a 404 (found by st run's stateful phase). AUTOINCREMENT never reuses
an id. The table is recreated with its rows, indexes and foreign key; no other table refers to
images by a foreign key. PostgreSQL's sequences never reuse ids: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate_images(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "images", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _recreate_images(True)


def downgrade() -> None:
    _recreate_images(False)

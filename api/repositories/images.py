"""Image records. What an image counts against its owner (one image; its upload's and its
output's bytes) moves with its row, in the same transaction (`api.repositories.usage`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Update, and_, bindparam, update
from sqlalchemy import delete as sql_delete
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from api.core.models import Image, User
from api.repositories import usage
from api.repositories.usage import Quotas


def get(session: Session, image_id: int) -> Image | None:
    return session.get(Image, image_id)


# The account's two columns with the user's image, or with nothing: no row at all means
# the user is gone. Built once (see `_swap_statement`).
_OWNED_WITH_ACCOUNT = (
    sa_select(col(User.is_active), col(User.sessions_revoked_at), Image)
    .select_from(User)
    .outerjoin(
        Image, and_(col(Image.id) == bindparam("image"), col(Image.owner_id) == col(User.id))
    )
    .where(col(User.id) == bindparam("user"))
)


def owned_with_account(
    session: Session, image_id: int, user_id: int
) -> tuple[bool, datetime | None, Image | None] | None:
    """(is_active, sessions_revoked_at, the image if `user_id` owns it) in one query; None if
    the user does not exist."""
    row = session.execute(_OWNED_WITH_ACCOUNT, {"image": image_id, "user": user_id}).first()
    return None if row is None else (bool(row[0]), row[1], row[2])


def get_many(session: Session, image_ids: Sequence[int]) -> dict[int, Image]:
    rows = session.exec(select(Image).where(col(Image.id).in_(list(image_ids)))).all()
    return {row.id: row for row in rows if row.id is not None}


def list_for_owner(session: Session, owner_id: int, offset: int, limit: int) -> list[Image]:
    query = (
        select(Image)
        .where(Image.owner_id == owner_id)
        .order_by(col(Image.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(query).all())


def add(session: Session, image: Image, quotas: Quotas) -> Image | None:
    """Insert the image if its owner's image count and stored bytes stay within `quotas`;
    None (nothing inserted) if not."""
    taken = usage.reserve(session, image.owner_id, quotas, images=1, stored_bytes=image.size_bytes)
    if taken is None:
        return None
    session.add(image)
    session.flush()
    return image


def current_output(session: Session, image_id: int) -> tuple[bool, str | None, int]:
    """(exists, processed_name, its size) as stored now, not as the session's cached object
    says."""
    query = select(Image.id, Image.processed_name, Image.processed_size_bytes).where(
        col(Image.id) == image_id
    )
    row = session.exec(query).first()
    return (False, None, 0) if row is None else (True, row[1], row[2] or 0)


class OverQuota(Exception):
    """The new output would pass the owner's stored-bytes quota (nothing was changed)."""


OUTPUT_COLUMNS = (
    "status",
    "processed_name",
    "processed_format",
    "processed_size_bytes",
    "processed_width",
    "processed_height",
    "pipeline",
    "processing_ms",
    "processed_at",
)


@functools.cache
def _swap_statement(from_nothing: bool) -> Update:
    """`UPDATE images SET <output columns> WHERE id = :image AND processed_name <is the
    expected one> RETURNING owner_id`, built once per kind of expected name: a request then
    only binds values. Core, on the session's connection: the caller's copy of the row is
    detached and updated by the caller, so the ORM has nothing to synchronise."""
    table = Image.__table__
    columns = table.c  # type: ignore[attr-defined]
    current = columns.processed_name
    matches = current.is_(None) if from_nothing else current == bindparam("expected")
    return (
        update(table)
        .where(columns.id == bindparam("image"), matches)
        .values(
            {name: bindparam(f"new_{name}", type_=columns[name].type) for name in OUTPUT_COLUMNS}
        )
        .returning(columns.owner_id)
    )


def replace_output(
    session: Session,
    image_id: int,
    expected: str | None,
    expected_size: int,
    values: dict[str, Any],
    quotas: Quotas,
) -> bool:
    """Set the processed output (`values`: every one of OUTPUT_COLUMNS) only if it is still
    `expected` (compare and swap), and count the change of size against the owner. False if
    the output is no longer `expected`; OverQuota if the new one does not fit.

    One UPDATE, atomic on SQLite and PostgreSQL alike: of two concurrent replacements,
    exactly one sees its expected name, so each superseded file is known to one caller.
    """
    params = {f"new_{name}": values[name] for name in OUTPUT_COLUMNS}
    params["image"] = image_id
    if expected is not None:
        params["expected"] = expected
    swapped = session.connection().execute(_swap_statement(expected is None), params).first()
    if swapped is None:
        return False
    growth = values["processed_size_bytes"] - expected_size
    if usage.reserve(session, swapped[0], quotas, stored_bytes=growth) is None:
        raise OverQuota
    return True


def delete_returning(
    session: Session, image_id: int, owner_id: int
) -> tuple[str, str | None] | None:
    """Delete the row if `owner_id` owns it; (stored_name, processed_name) as they were when
    it went, or None. The owner's usage shrinks in the same transaction."""
    row = session.exec(  # type: ignore[call-overload]
        sql_delete(Image)
        .where(col(Image.id) == image_id, col(Image.owner_id) == owner_id)
        .returning(
            col(Image.stored_name),
            col(Image.processed_name),
            col(Image.size_bytes),
            col(Image.processed_size_bytes),
        )
    ).first()
    if row is None:
        return None
    usage.release(session, owner_id, images=1, stored_bytes=row[2] + (row[3] or 0))
    return row[0], row[1]


def every(session: Session) -> list[Image]:
    """Every image row of every owner, oldest first (an integrity audit, not a request path)."""
    return list(session.exec(select(Image).order_by(col(Image.id))).all())

"""Image records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from api.core.models import Image


def get(session: Session, image_id: int) -> Image | None:
    return session.get(Image, image_id)


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


def add(session: Session, image: Image) -> Image:
    session.add(image)
    session.flush()
    return image


def current_output(session: Session, image_id: int) -> tuple[bool, str | None]:
    """(exists, processed_name) as stored now, not as the session's cached object says."""
    query = select(Image.id, Image.processed_name).where(col(Image.id) == image_id)
    row = session.exec(query).first()
    return (False, None) if row is None else (True, row[1])


def replace_output(
    session: Session, image_id: int, expected: str | None, values: dict[str, Any]
) -> bool:
    """Set the processed output only if it is still `expected` (compare and swap).

    One UPDATE, atomic on SQLite and PostgreSQL alike: of two concurrent replacements,
    exactly one sees its expected name, so each superseded file is known to one caller.
    """
    current = col(Image.processed_name)
    matches = current.is_(None) if expected is None else current == expected
    result = session.exec(  # type: ignore[call-overload]
        update(Image).where(col(Image.id) == image_id, matches).values(**values)
    )
    return int(result.rowcount or 0) == 1


def delete_returning(session: Session, image_id: int) -> tuple[str, str | None] | None:
    """Delete the row; (stored_name, processed_name) as they were when it went, or None."""
    row = session.exec(  # type: ignore[call-overload]
        sql_delete(Image)
        .where(col(Image.id) == image_id)
        .returning(col(Image.stored_name), col(Image.processed_name))
    ).first()
    return None if row is None else (row[0], row[1])


def usage(session: Session, owner_id: int) -> tuple[int, int]:
    """(images kept, bytes kept: uploads + processed outputs) of one owner."""
    count, stored = session.exec(
        select(
            func.count(),
            func.coalesce(
                func.sum(Image.size_bytes + func.coalesce(Image.processed_size_bytes, 0)), 0
            ),
        ).where(Image.owner_id == owner_id)
    ).one()
    return int(count), int(stored)


def every(session: Session) -> list[Image]:
    """Every image row of every owner, oldest first (an integrity audit, not a request path)."""
    return list(session.exec(select(Image).order_by(col(Image.id))).all())

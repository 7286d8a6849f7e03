"""Image records."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from api.models import Image


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


def delete(session: Session, image: Image) -> None:
    session.delete(image)

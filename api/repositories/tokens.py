"""Refresh tokens, tracked by jti; a family is every token descended from one login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from api.models import RefreshToken, utcnow


def add(
    session: Session, jti: str, user_id: int, family_id: str, expires_at: datetime
) -> RefreshToken:
    token = RefreshToken(jti=jti, user_id=user_id, family_id=family_id, expires_at=expires_at)
    session.add(token)
    return token


def get(session: Session, jti: str) -> RefreshToken | None:
    return session.get(RefreshToken, jti)


def mark_used(session: Session, jti: str) -> bool:
    """Atomically mark an unused, unrevoked token used; False when someone else was first."""
    result = session.exec(  # type: ignore[call-overload]
        update(RefreshToken)
        .where(
            col(RefreshToken.jti) == jti,
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def revoke_family(session: Session, family_id: str) -> int:
    result = session.exec(  # type: ignore[call-overload]
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)

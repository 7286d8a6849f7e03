"""Refresh tokens, tracked by jti; a family is every token descended from one login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.core.models import RefreshToken, utcnow


def add(
    session: Session,
    jti: str,
    user_id: int,
    family_id: str,
    expires_at: datetime,
    *,
    parent_jti: str | None = None,
    family_started_at: datetime | None = None,
) -> RefreshToken:
    token = RefreshToken(
        jti=jti,
        user_id=user_id,
        family_id=family_id,
        expires_at=expires_at,
        parent_jti=parent_jti,
        family_started_at=family_started_at,
    )
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


def has_used_child(session: Session, jti: str) -> bool:
    """Whether a token issued from `jti` was itself used: the chain has moved past it."""
    query = select(RefreshToken.jti).where(
        col(RefreshToken.parent_jti) == jti, col(RefreshToken.used_at).is_not(None)
    )
    return session.exec(query.limit(1)).first() is not None


def revoke_family(session: Session, family_id: str) -> int:
    result = session.exec(  # type: ignore[call-overload]
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def revoke_user(session: Session, user_id: int) -> int:
    """Revoke every refresh token of a user (all families): log out everywhere."""
    result = session.exec(  # type: ignore[call-overload]
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)

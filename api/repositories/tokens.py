"""Refresh tokens, tracked by jti; a family is every token descended from one login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

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
    issued_at: datetime | None = None,
) -> RefreshToken:
    token = RefreshToken(
        jti=jti,
        user_id=user_id,
        family_id=family_id,
        expires_at=expires_at,
        parent_jti=parent_jti,
        family_started_at=family_started_at,
        issued_at=issued_at or utcnow(),
    )
    session.add(token)
    return token


def get(session: Session, jti: str) -> RefreshToken | None:
    return session.get(RefreshToken, jti)


def mark_used(session: Session, jti: str, successor_jti: str) -> bool:
    """Atomically mark an unused, unrevoked token used and name its one successor; False when
    another refresh (or a revocation) was first. One conditional UPDATE: of concurrent
    refreshes exactly one wins, on SQLite and PostgreSQL alike."""
    result = session.exec(  # type: ignore[call-overload]
        update(RefreshToken)
        .where(
            col(RefreshToken.jti) == jti,
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(used_at=utcnow(), successor_jti=successor_jti)
    )
    return result.rowcount == 1


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

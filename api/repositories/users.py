"""Users."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.core.models import User


def get_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def get(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def lock(session: Session, user_id: int) -> User | None:
    """The user's row, read fresh and locked until the transaction ends.

    Session changes (refresh, logout, log out everywhere, password change) take it first, so
    they run one after another per user: a revocation then sees every token a refresh
    committed before it, and a refresh that waited sees the revocation. PostgreSQL: the row
    (`SELECT ... FOR UPDATE`). SQLite has no row locks: a no-op UPDATE takes the database's
    write lock, which is held until the commit.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.exec(  # type: ignore[call-overload]
            update(User).where(col(User.id) == user_id).values(role=User.role)
        )
    query = select(User).where(col(User.id) == user_id).with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


def add(session: Session, email: str, password_hash: str) -> User:
    user = User(email=email, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def emails(session: Session) -> list[str]:
    """Every user's e-mail, as stored (duplicates included: an audit looks for them)."""
    return list(session.exec(select(User.email)).all())

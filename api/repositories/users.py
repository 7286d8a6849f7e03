"""Users."""

from __future__ import annotations

from sqlmodel import Session, select

from api.core.models import User


def get_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def get(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def add(session: Session, email: str, password_hash: str) -> User:
    user = User(email=email, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def emails(session: Session) -> list[str]:
    """Every user's e-mail, as stored (duplicates included: an audit looks for them)."""
    return list(session.exec(select(User.email)).all())

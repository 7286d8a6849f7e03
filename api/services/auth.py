"""Registration, login, refresh-token rotation with reuse detection."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.errors import DuplicateEmail, InvalidCredentials, InvalidToken
from api.models import User
from api.repositories import tokens, users
from api.schemas import TokenPair
from api.security import PasswordHasher, TokenService

logger = logging.getLogger("api.auth")


class AuthService:
    def __init__(self, session: Session, hasher: PasswordHasher, token_service: TokenService):
        self.session = session
        self.hasher = hasher
        self.tokens = token_service

    def register(self, email: str, password: str) -> User:
        if users.get_by_email(self.session, email) is not None:
            raise DuplicateEmail("this e-mail address is already registered")
        user = users.add(self.session, email, self.hasher.hash(password))
        try:
            self.session.commit()
        except IntegrityError:  # a concurrent registration won the race
            self.session.rollback()
            raise DuplicateEmail("this e-mail address is already registered") from None
        self.session.refresh(user)
        return user

    def login(self, email: str, password: str) -> TokenPair:
        user = users.get_by_email(self.session, email.strip().lower())
        # Unknown e-mails are checked against a dummy hash: the same bcrypt cost either way.
        if not self.hasher.verify(password, user.password_hash if user else None) or not user:
            raise InvalidCredentials("wrong e-mail or password")
        assert user.id is not None
        pair = self._issue(user.id, family_id=uuid.uuid4().hex)
        self.session.commit()
        return pair

    def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.tokens.refresh_claims(refresh_token)
        stored = tokens.get(self.session, claims.jti)
        if stored is None or stored.user_id != claims.user_id:
            raise InvalidToken("unknown refresh token")
        if stored.revoked_at is not None or stored.used_at is not None:
            self._revoke_chain(stored.family_id, reused=stored.used_at is not None)
        if not tokens.mark_used(self.session, claims.jti):  # a concurrent refresh was first
            self._revoke_chain(stored.family_id, reused=True)
        if users.get(self.session, claims.user_id) is None:
            raise InvalidToken("the token's user no longer exists")
        pair = self._issue(claims.user_id, family_id=stored.family_id)
        self.session.commit()
        return pair

    def _revoke_chain(self, family_id: str, *, reused: bool) -> None:
        revoked = tokens.revoke_family(self.session, family_id)
        self.session.commit()
        if reused:
            logger.warning(
                "refresh token reuse detected: revoked %d token(s) of its chain", revoked
            )
            raise InvalidToken("refresh token already used; its whole chain is revoked, log in")
        raise InvalidToken("refresh token revoked; log in again")

    def _issue(self, user_id: int, family_id: str) -> TokenPair:
        refresh_token, claims = self.tokens.create_refresh_token(user_id, family_id)
        tokens.add(
            self.session,
            claims.jti,
            user_id,
            family_id,
            claims.expires_at.astimezone(UTC).replace(tzinfo=None),
        )
        return TokenPair(
            access_token=self.tokens.create_access_token(user_id),
            refresh_token=refresh_token,
            expires_in=int(self.tokens.access_lifetime.total_seconds()),
        )

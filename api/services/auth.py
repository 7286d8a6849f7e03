"""Registration, login, refresh rotation, and the ways a user ends sessions.

No database connection is held while bcrypt runs or waits for its bounded pool: each step
opens a short session of its own. Refresh tokens rotate; a token presented again is a replay
(its whole family is revoked) unless it is the immediate predecessor of the newest token and
was rotated less than REFRESH_GRACE_SECONDS ago: two concurrent refreshes from one client
then both succeed (OAuth 2.0 Security BCP, refresh token rotation). A family ends after an
absolute lifetime however often it is refreshed.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.core.database import Database
from api.core.errors import DuplicateEmail, InvalidCredentials, InvalidToken
from api.core.models import RefreshToken, User, utcnow
from api.core.schemas import TokenPair
from api.core.security import PasswordHasher, TokenService
from api.core.threads import in_thread
from api.repositories import tokens, users
from api.services.cpu_limiter import CpuLimiter

logger = logging.getLogger("api.auth")

DUPLICATE = "this e-mail address is already registered"


class AuthService:
    def __init__(
        self,
        database: Database,
        hasher: PasswordHasher,
        token_service: TokenService,
        passwords: CpuLimiter,
        family_lifetime: timedelta,
        grace: timedelta,
    ) -> None:
        self.database = database
        self.hasher = hasher
        self.tokens = token_service
        self.passwords = passwords  # bcrypt waits here, on the event loop, never in a thread
        self.family_lifetime = family_lifetime
        self.grace = grace

    # -- accounts --------------------------------------------------------------------------

    async def register(self, email: str, password: str) -> User:
        if await in_thread(self._find, email) is not None:
            raise DuplicateEmail(DUPLICATE)
        password_hash = await self.passwords.run(self.hasher.hash, password)
        return await in_thread(self._insert_user, email, password_hash)

    def _find(self, email: str) -> User | None:
        with self.database.session() as session:
            return users.get_by_email(session, email)

    def _insert_user(self, email: str, password_hash: str) -> User:
        with self.database.session() as session:
            user = users.add(session, email, password_hash)
            try:
                session.commit()
            except IntegrityError:  # a concurrent registration won the race
                session.rollback()
                raise DuplicateEmail(DUPLICATE) from None
            session.refresh(user)
            return user

    async def login(self, email: str, password: str) -> TokenPair:
        user = await in_thread(self._find, email.strip().lower())
        # Unknown e-mails are checked against a dummy hash: the same bcrypt cost either way.
        stored_hash = user.password_hash if user else None
        if not await self.passwords.run(self.hasher.verify, password, stored_hash) or not user:
            raise InvalidCredentials("wrong e-mail or password")
        assert user.id is not None
        return await in_thread(self._new_family, user.id)

    def _new_family(self, user_id: int) -> TokenPair:
        with self.database.session() as session:
            pair = self._issue(session, user_id, uuid.uuid4().hex, None, utcnow())
            session.commit()
            return pair

    async def change_password(self, user: User, current: str, new: str) -> TokenPair:
        """Check the current password, store the new one, end every session, start one."""
        if not await self.passwords.run(self.hasher.verify, current, user.password_hash):
            raise InvalidCredentials("the current password is wrong")
        new_hash = await self.passwords.run(self.hasher.hash, new)
        assert user.id is not None
        return await in_thread(self._replace_password, user.id, new_hash)

    def _replace_password(self, user_id: int, new_hash: str) -> TokenPair:
        with self.database.session() as session:
            row = users.get(session, user_id)
            if row is None:
                raise InvalidToken("the token's user no longer exists")
            row.password_hash = new_hash
            revoked = self._end_all(session, row)
            pair = self._issue(session, user_id, uuid.uuid4().hex, None, utcnow())
            session.commit()
        logger.info("user %d changed the password: %d refresh token(s) revoked", user_id, revoked)
        return pair

    # -- ending sessions -------------------------------------------------------------------

    def logout(self, refresh_token: str) -> None:
        """End the session (refresh family) the token belongs to."""
        claims = self.tokens.refresh_claims(refresh_token)
        with self.database.session() as session:
            stored = tokens.get(session, claims.jti)
            if stored is None or stored.user_id != claims.user_id:
                raise InvalidToken("unknown refresh token")
            tokens.revoke_family(session, stored.family_id)
            session.commit()

    def logout_everywhere(self, user: User) -> None:
        """Revoke every refresh family and refuse every access token issued until now."""
        assert user.id is not None
        with self.database.session() as session:
            row = users.get(session, user.id)
            if row is None:
                raise InvalidToken("the token's user no longer exists")
            revoked = self._end_all(session, row)
            session.commit()
        logger.info("user %d logged out everywhere: %d refresh token(s) revoked", user.id, revoked)

    @staticmethod
    def _end_all(session: Session, user: User) -> int:
        user.sessions_revoked_at = utcnow()
        session.add(user)
        return tokens.revoke_user(session, user.id)  # type: ignore[arg-type]

    # -- refresh ---------------------------------------------------------------------------

    def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.tokens.refresh_claims(refresh_token)
        with self.database.session() as session:
            stored = tokens.get(session, claims.jti)
            if stored is None or stored.user_id != claims.user_id:
                raise InvalidToken("unknown refresh token")
            if stored.revoked_at is not None:
                raise InvalidToken("refresh token revoked; log in again")
            started = stored.family_started_at or stored.issued_at
            if utcnow() - started > self.family_lifetime:
                tokens.revoke_family(session, stored.family_id)
                session.commit()
                raise InvalidToken("this login has reached its maximum age; log in again")
            if not tokens.mark_used(session, claims.jti):
                session.rollback()  # another refresh (or a revocation) committed first
                session.refresh(stored)
                if stored.revoked_at is not None:
                    raise InvalidToken("refresh token revoked; log in again")
                if not self._in_grace(session, stored):
                    self._revoke_replayed(session, stored.family_id)
            if users.get(session, claims.user_id) is None:
                raise InvalidToken("the token's user no longer exists")
            pair = self._issue(session, claims.user_id, stored.family_id, stored.jti, started)
            session.commit()
            return pair

    def _in_grace(self, session: Session, stored: RefreshToken) -> bool:
        """A just-rotated token whose successor is still unused: a race, not a replay."""
        used = stored.used_at
        if used is None or utcnow() - used > self.grace:
            return False
        return not tokens.has_used_child(session, stored.jti)

    def _revoke_replayed(self, session: Session, family_id: str) -> None:
        revoked = tokens.revoke_family(session, family_id)
        session.commit()
        logger.warning("refresh token reuse detected: revoked %d token(s) of its chain", revoked)
        raise InvalidToken("refresh token already used; its whole chain is revoked, log in")

    def _issue(
        self,
        session: Session,
        user_id: int,
        family_id: str,
        parent_jti: str | None,
        family_started_at: datetime,
    ) -> TokenPair:
        family_end = (family_started_at + self.family_lifetime).replace(tzinfo=UTC)
        refresh_token, claims = self.tokens.create_refresh_token(user_id, family_id, family_end)
        tokens.add(
            session,
            claims.jti,
            user_id,
            family_id,
            claims.expires_at.astimezone(UTC).replace(tzinfo=None),
            parent_jti=parent_jti,
            family_started_at=family_started_at,
        )
        return TokenPair(
            access_token=self.tokens.create_access_token(user_id),
            refresh_token=refresh_token,
            expires_in=int(self.tokens.access_lifetime.total_seconds()),
        )

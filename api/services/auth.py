"""Registration, login, refresh rotation, and the ways a user ends sessions.

No database connection is held while bcrypt runs or waits for its bounded pool: each step
opens a short session of its own. bcrypt runs one check at a time per client address (and
per account for a password change: api/passwords.py), so one client's guesses cannot queue
ahead of everyone else's logins.

Refresh tokens rotate. A refresh marks its token used and names the successor in one
conditional UPDATE, so of concurrent refreshes of one token exactly one mints a successor.
A token presented again is a replay (its whole family is revoked) unless it was rotated less
than REFRESH_GRACE_SECONDS ago and its successor is still unused: then it gets that same
successor again (two tabs refreshing at once both succeed and hold one chain; OAuth 2.0
Security BCP, refresh token rotation). A family ends after an absolute lifetime however often
it is refreshed.

Every change to a user's sessions (refresh, logout, log out everywhere, password change)
first locks the user's row (`users.lock`), so they run one after another per user: a
revocation sees every token a refresh committed before it, and its cut-off time is taken
after any such refresh has issued its access token.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.core.database import Database
from api.core.errors import DuplicateEmail, Forbidden, InvalidCredentials, InvalidToken
from api.core.models import RefreshToken, User, utcnow
from api.core.schemas import TokenPair
from api.core.security import PasswordHasher, RefreshClaims, TokenService
from api.core.threads import in_thread
from api.repositories import tokens, users
from api.services.passwords import PasswordPool

logger = logging.getLogger("api.auth")

DUPLICATE = "this e-mail address is already registered"
DEACTIVATED = "this account is deactivated"


def _naive(moment: datetime) -> datetime:
    """Naive UTC, as every datetime column stores it."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


class AuthService:
    def __init__(
        self,
        database: Database,
        hasher: PasswordHasher,
        token_service: TokenService,
        passwords: PasswordPool,
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

    async def register(self, email: str, password: str, client: str) -> User:
        if await in_thread(self._find, email) is not None:
            raise DuplicateEmail(DUPLICATE)
        password_hash = await self.passwords.run(_keys(client), self.hasher.hash, password)
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

    async def login(self, email: str, password: str, client: str) -> TokenPair:
        user = await in_thread(self._find, email.strip().lower())
        # Unknown e-mails are checked against a dummy hash: the same bcrypt cost either way.
        stored_hash = user.password_hash if user else None
        matches = await self.passwords.run(_keys(client), self.hasher.verify, password, stored_hash)
        if not matches or not user:
            raise InvalidCredentials("wrong e-mail or password")
        if not user.is_active:  # said only to whoever knows the password
            raise Forbidden(DEACTIVATED)
        assert user.id is not None
        return await in_thread(self._new_family, user.id)

    def _new_family(self, user_id: int) -> TokenPair:
        with self.database.session() as session:
            pair = self._issue(session, user_id, uuid.uuid4().hex, None, utcnow())
            session.commit()
            return pair

    async def change_password(self, user: User, current: str, new: str, client: str) -> TokenPair:
        """Check the current password, store the new one, end every session, start one."""
        assert user.id is not None
        keys = _keys(client, user.id)
        new_hash = await self.passwords.run(
            keys, self._checked_hash, current, user.password_hash, new
        )
        if new_hash is None:
            raise InvalidCredentials("the current password is wrong")
        return await in_thread(self._replace_password, user.id, new_hash)

    def _checked_hash(self, current: str, stored_hash: str, new: str) -> str | None:
        """The new password's hash if `current` matches, else None: one turn on the pool."""
        if not self.hasher.verify(current, stored_hash):
            return None
        return self.hasher.hash(new)

    def _replace_password(self, user_id: int, new_hash: str) -> TokenPair:
        with self.database.session() as session:
            row = users.lock(session, user_id)
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
            users.lock(session, claims.user_id)
            stored = tokens.get(session, claims.jti)
            if stored is None or stored.user_id != claims.user_id:
                raise InvalidToken("unknown refresh token")
            tokens.revoke_family(session, stored.family_id)
            session.commit()

    def logout_everywhere(self, user: User) -> None:
        """Revoke every refresh family and refuse every access token issued until now."""
        assert user.id is not None
        with self.database.session() as session:
            row = users.lock(session, user.id)
            if row is None:
                raise InvalidToken("the token's user no longer exists")
            revoked = self._end_all(session, row)
            session.commit()
        logger.info("user %d logged out everywhere: %d refresh token(s) revoked", user.id, revoked)

    @staticmethod
    def _end_all(session: Session, user: User) -> int:
        """Revoke every token of `user`, whose row the caller has locked: the cut-off is taken
        now, after any refresh that held the lock first has issued its access token."""
        user.sessions_revoked_at = utcnow()
        session.add(user)
        return tokens.revoke_user(session, user.id)  # type: ignore[arg-type]

    # -- refresh ---------------------------------------------------------------------------

    def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.tokens.refresh_claims(refresh_token)
        with self.database.session() as session:
            user = users.lock(session, claims.user_id)
            stored = tokens.get(session, claims.jti)
            if stored is None or stored.user_id != claims.user_id:
                raise InvalidToken("unknown refresh token")
            if user is None:
                raise InvalidToken("the token's user no longer exists")
            if stored.revoked_at is not None:
                raise InvalidToken("refresh token revoked; log in again")
            if not user.is_active:  # the token is left as it was: it works again if reactivated
                raise Forbidden(DEACTIVATED)
            started = stored.family_started_at or stored.issued_at
            if utcnow() - started > self.family_lifetime:
                tokens.revoke_family(session, stored.family_id)
                session.commit()
                raise InvalidToken("this login has reached its maximum age; log in again")
            if stored.used_at is None:
                token, successor = self._new_refresh(claims.user_id, stored.family_id, started)
                if tokens.mark_used(session, stored.jti, successor.jti):
                    self._store(session, successor, stored.jti, started)
                    pair = self._pair(claims.user_id, token)
                    session.commit()
                    return pair
                session.refresh(stored)  # another refresh (or a revocation) committed first
                if stored.revoked_at is not None:
                    raise InvalidToken("refresh token revoked; log in again")
            return self._again(session, stored)

    def _again(self, session: Session, stored: RefreshToken) -> TokenPair:
        """A used token presented again: within the grace window, while its successor is
        unused, that same successor (a race between two tabs, not a replay); otherwise a
        replay, and the whole chain is revoked."""
        successor = tokens.get(session, stored.successor_jti) if stored.successor_jti else None
        used = stored.used_at
        if (
            successor is not None
            and used is not None
            and utcnow() - used <= self.grace
            and successor.used_at is None
            and successor.revoked_at is None
        ):
            claims = RefreshClaims(
                successor.user_id,
                successor.jti,
                successor.family_id,
                _aware(successor.expires_at),
                _aware(successor.issued_at),
            )
            pair = self._pair(successor.user_id, self.tokens.encode_refresh(claims))
            session.rollback()  # nothing was written; ends the transaction and its lock
            return pair
        raise self._revoke_replayed(session, stored.family_id)

    def _revoke_replayed(self, session: Session, family_id: str) -> InvalidToken:
        """Revoke the replayed token's chain; the error to answer with."""
        revoked = tokens.revoke_family(session, family_id)
        session.commit()
        logger.warning("refresh token reuse detected: revoked %d token(s) of its chain", revoked)
        return InvalidToken("refresh token already used; its whole chain is revoked, log in")

    def _new_refresh(
        self, user_id: int, family_id: str, family_started_at: datetime
    ) -> tuple[str, RefreshClaims]:
        family_end = (family_started_at + self.family_lifetime).replace(tzinfo=UTC)
        return self.tokens.create_refresh_token(user_id, family_id, family_end)

    @staticmethod
    def _store(
        session: Session,
        claims: RefreshClaims,
        parent_jti: str | None,
        family_started_at: datetime,
    ) -> None:
        tokens.add(
            session,
            claims.jti,
            claims.user_id,
            claims.family_id,
            _naive(claims.expires_at),
            parent_jti=parent_jti,
            family_started_at=family_started_at,
            issued_at=_naive(claims.issued_at),
        )

    def _pair(self, user_id: int, refresh_token: str) -> TokenPair:
        return TokenPair(
            access_token=self.tokens.create_access_token(user_id),
            refresh_token=refresh_token,
            expires_in=int(self.tokens.access_lifetime.total_seconds()),
        )

    def _issue(
        self,
        session: Session,
        user_id: int,
        family_id: str,
        parent_jti: str | None,
        family_started_at: datetime,
    ) -> TokenPair:
        token, claims = self._new_refresh(user_id, family_id, family_started_at)
        self._store(session, claims, parent_jti, family_started_at)
        return self._pair(user_id, token)


def _keys(client: str, user_id: int | None = None) -> list[str]:
    """Whose bcrypt work this is: the client address, and the account when it is known."""
    keys = [f"address:{client}"]
    if user_id is not None:
        keys.append(f"account:{user_id}")
    return keys

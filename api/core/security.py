"""Passwords (passlib API from the `libpass` distribution, bcrypt over SHA-256) and JWTs
(pyjwt, HS256).

Tokens: access tokens are short-lived (`type: access`); refresh tokens carry
`type: refresh` and a `jti` that the database tracks so that each one is used once.
Decoding pins HS256 and requires `exp`, `iat`, `sub`, and this service's `iss` and `aud`
(a token another service signed with a shared key is refused); anything else is INVALID_TOKEN.
"""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard

import jwt
from passlib.context import CryptContext

from api.core.errors import InvalidToken

logger = logging.getLogger("api.core.security")

ALGORITHM = "HS256"
MAX_ID = 2**31 - 1  # row ids are 32-bit INTEGER columns on PostgreSQL
# bcrypt_sha256 hashes the password with SHA-256 before bcrypt, so bcrypt's 72-byte limit does
# not apply and the rule is in characters, which JSON Schema (the OpenAPI document) can state.
MAX_PASSWORD_CHARS = 128
MIN_PASSWORD_CHARS = 8
ACCESS = "access"
REFRESH = "refresh"
ISSUER = "nogilbench-api"
AUDIENCE = "nogilbench-api"
MIN_KEY_BYTES = 32


class PasswordHasher:
    def __init__(self, rounds: int = 12) -> None:
        # New hashes are bcrypt_sha256; plain bcrypt hashes stored before still verify.
        self._context = CryptContext(
            schemes=["bcrypt_sha256", "bcrypt"],
            bcrypt_sha256__rounds=rounds,
            bcrypt__rounds=rounds,
        )
        # Verified against when the e-mail is unknown, so both paths cost one bcrypt check.
        self._dummy_hash = self._context.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._context.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        """True if `password` matches; every refusal costs one bcrypt check, like a mismatch."""
        if not acceptable_password(password):  # bcrypt would refuse it before hashing
            self._spend()
            return False
        try:
            if password_hash is None:
                self._context.verify(password, self._dummy_hash)
                return False
            return bool(self._context.verify(password, password_hash))
        except ValueError:  # a malformed stored hash, or a secret bcrypt refuses
            self._spend()
            return False

    def _spend(self) -> None:
        """One bcrypt check whose answer is ignored (keeps refusals as slow as mismatches)."""
        self._context.verify("x", self._dummy_hash)


def acceptable_password(password: str) -> bool:
    """What registration accepts: at most MAX_PASSWORD_CHARS characters and no NUL."""
    return "\x00" not in password and len(password) <= MAX_PASSWORD_CHARS


def load_or_create_secret_key(configured: str | None, key_file: Path) -> str:
    """The configured key, else the one kept in `key_file` (created 0600 on first start)."""
    if configured:
        return configured
    if key_file.exists():
        mode = key_file.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning("secret key file %s is readable by others (mode %o)", key_file, mode)
        stored = key_file.read_text(encoding="utf-8").strip()
        if len(stored.encode("utf-8")) < MIN_KEY_BYTES:
            raise ValueError(
                f"the secret key in {key_file} is shorter than {MIN_KEY_BYTES} bytes; "
                "delete the file to generate a new one, or set SECRET_KEY"
            )
        return stored
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return key_file.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key)
    logger.warning(
        "SECRET_KEY is not set: generated a random key in %s (mode 0600); tokens survive "
        "restarts while that file is kept. Set SECRET_KEY in production.",
        key_file,
    )
    return key


@dataclass(frozen=True)
class RefreshClaims:
    user_id: int
    jti: str
    family_id: str
    expires_at: datetime
    issued_at: datetime  # what `iat` says (whole seconds once encoded)


# Every token this service signs carries these; a kind of token may require more.
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")


def verify_jwt(
    token: str,
    key: str,
    *,
    audience: str,
    required: tuple[str, ...],
    label: str = "token",
    expiry_hint: str = "",
) -> dict[str, Any]:
    """The claims of `token` once its HS256 signature, `exp`, `iss`, `audience` and the
    `required` claims are checked; InvalidToken otherwise. An expired token gets its own
    message ("the {label} has expired" + `expiry_hint`): the client can ask for a new one."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={"require": list(required)},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken(f"the {label} has expired{expiry_hint}") from None
    except jwt.PyJWTError:
        raise InvalidToken(f"the {label} is invalid") from None
    return claims


def is_user_id(subject: object) -> TypeGuard[str]:
    """Whether a token's `sub` can name a user: a row id, so digits only, within the id
    column's range (refused before any database query)."""
    return isinstance(subject, str) and subject.isdigit() and 1 <= int(subject) <= MAX_ID


def _now() -> datetime:
    return datetime.now(UTC)


class TokenService:
    def __init__(self, secret_key: str, access_minutes: int, refresh_days: int) -> None:
        if len(secret_key.encode("utf-8")) < MIN_KEY_BYTES:
            raise ValueError(f"the secret key must be at least {MIN_KEY_BYTES} bytes")
        self._key = secret_key
        self.access_lifetime = timedelta(minutes=access_minutes)
        self.refresh_lifetime = timedelta(days=refresh_days)

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            {**claims, "iss": ISSUER, "aud": AUDIENCE}, self._key, algorithm=ALGORITHM
        )

    def create_access_token(self, user_id: int) -> str:
        now = _now()
        return self._encode(
            {
                "sub": str(user_id),
                "type": ACCESS,
                # Sub-second, so "log out everywhere" can tell tokens of the same second apart.
                "iat": round(now.timestamp(), 6),
                "exp": now + self.access_lifetime,
                "jti": uuid.uuid4().hex,
            }
        )

    def create_refresh_token(
        self, user_id: int, family_id: str, not_after: datetime | None = None
    ) -> tuple[str, RefreshClaims]:
        """A refresh token; it never outlives `not_after` (its family's absolute end)."""
        now = _now()
        expires = now + self.refresh_lifetime
        if not_after is not None:
            expires = min(expires, not_after)
        claims = RefreshClaims(user_id, uuid.uuid4().hex, family_id, expires, now)
        return self.encode_refresh(claims), claims

    def encode_refresh(self, claims: RefreshClaims) -> str:
        """The refresh token of `claims`. HS256 is deterministic: the claims of a stored token
        (its row) give that very token again, so it can be handed out a second time."""
        return self._encode(
            {
                "sub": str(claims.user_id),
                "type": REFRESH,
                "iat": claims.issued_at,
                "exp": claims.expires_at,
                "jti": claims.jti,
                "fam": claims.family_id,
            }
        )

    def decode(self, token: str, expected_type: str) -> dict[str, Any]:
        """Verified claims of a token of `expected_type`; InvalidToken otherwise."""
        claims = verify_jwt(token, self._key, audience=AUDIENCE, required=REQUIRED_CLAIMS)
        if claims.get("type") != expected_type:
            raise InvalidToken(
                f"not an {expected_type} token"
                if expected_type == ACCESS
                else f"not a {expected_type} token"
            )
        if not is_user_id(claims.get("sub")):
            raise InvalidToken("the token is invalid")
        if expected_type == REFRESH and not (
            isinstance(claims.get("jti"), str) and isinstance(claims.get("fam"), str)
        ):
            raise InvalidToken("the token is invalid")
        return claims

    def user_id_from_access(self, token: str) -> int:
        return int(self.decode(token, ACCESS)["sub"])

    def access_claims(self, token: str) -> tuple[int, float]:
        """(user id, issued-at in seconds since the epoch) of a valid access token."""
        claims = self.decode(token, ACCESS)
        issued = claims["iat"]
        if isinstance(issued, bool) or not isinstance(issued, int | float):
            raise InvalidToken("the token is invalid")
        return int(claims["sub"]), float(issued)

    def refresh_claims(self, token: str) -> RefreshClaims:
        claims = self.decode(token, REFRESH)
        if any(isinstance(claims[name], bool) or not isinstance(claims[name], int | float)
               for name in ("iat", "exp")):  # fmt: skip
            raise InvalidToken("the token is invalid")
        return RefreshClaims(
            int(claims["sub"]),
            claims["jti"],
            claims["fam"],
            datetime.fromtimestamp(claims["exp"], UTC),
            datetime.fromtimestamp(claims["iat"], UTC),
        )

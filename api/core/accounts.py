"""Whether an access token's account may act: the checks every authenticated request makes.

The dependency that loads the user (`api.deps`) and the `/process` lookup (which reads the
account's two columns in the same query as the image, one thread hop and one statement
instead of two of each) apply the same rules here, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.core.errors import Forbidden, InvalidToken


@dataclass(frozen=True)
class AccessClaims:
    """A verified access token's user id and issue time (seconds since the epoch)."""

    user_id: int
    issued_at: float


def check_account(is_active: bool, sessions_revoked_at: datetime | None, issued_at: float) -> None:
    """InvalidToken if the token was issued before its user's sessions were ended, Forbidden
    if the account is deactivated; nothing if it may act."""
    if (
        sessions_revoked_at is not None
        and issued_at < sessions_revoked_at.replace(tzinfo=UTC).timestamp()
    ):
        raise InvalidToken("this session was ended (logged out everywhere); log in again")
    if not is_active:
        raise Forbidden("this account is deactivated")


def missing_user() -> InvalidToken:
    return InvalidToken("the token's user no longer exists")

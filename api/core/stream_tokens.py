"""Stream tokens: what a browser's `EventSource` (which cannot send an Authorization header)
presents to follow one job's events, in the query string: `?stream_token=...`.

A stream token is a JWT signed with the service's key, and it is good for exactly one thing:
- its audience is `nogilbench-job-events`, not the API's, and its `type` is `stream`: the
  access-token check (`TokenService.decode`) refuses it, so it opens no other endpoint;
- it names one job (`job`) and one user (`sub`): the events endpoint refuses it for any other
  job, and checks the user's access again on every read like an access token (logging out
  everywhere, a password change or a deactivation end the stream);
- it lives `STREAM_TOKEN_SECONDS` (60 s): long enough for a page to open the stream and for
  `EventSource`'s automatic reconnects of a short outage, short enough that one read from a
  log or a proxy is useless soon after. It may be presented again within that time (an
  `EventSource` reconnects with the same URL): it only ever reads that one job's progress.

The service's own access log never writes query strings, and uvicorn's access log is filtered
(`api.http.redaction`), so the token does not land in logs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from api.core.errors import InvalidToken
from api.core.security import (
    ALGORITHM,
    ISSUER,
    MIN_KEY_BYTES,
    REQUIRED_CLAIMS,
    is_user_id,
    verify_jwt,
)

STREAM_AUDIENCE = "nogilbench-job-events"
STREAM = "stream"
STREAM_TOKEN_SECONDS = 60
QUERY_PARAMETER = "stream_token"


@dataclass(frozen=True)
class StreamClaims:
    user_id: int
    job_id: int
    issued_at: float  # seconds since the epoch (checked against "log out everywhere")


class StreamTokens:
    def __init__(self, secret_key: str, lifetime_s: int = STREAM_TOKEN_SECONDS) -> None:
        if len(secret_key.encode("utf-8")) < MIN_KEY_BYTES:
            raise ValueError(f"the secret key must be at least {MIN_KEY_BYTES} bytes")
        self._key = secret_key
        self.lifetime = timedelta(seconds=lifetime_s)

    def issue(self, user_id: int, job_id: int) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "job": job_id,
            "type": STREAM,
            "iat": round(now.timestamp(), 6),
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
            "iss": ISSUER,
            "aud": STREAM_AUDIENCE,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def claims(self, token: str, job_id: int) -> StreamClaims:
        """The claims of a valid stream token for `job_id`; InvalidToken otherwise (expired,
        forged, another kind of token, or another job's)."""
        claims = verify_jwt(
            token,
            self._key,
            audience=STREAM_AUDIENCE,
            required=(*REQUIRED_CLAIMS, "job"),
            label="stream token",
            expiry_hint="; ask for a new one",
        )
        subject, job, issued = claims.get("sub"), claims.get("job"), claims.get("iat")
        valid = (
            claims.get("type") == STREAM
            and is_user_id(subject)
            and isinstance(job, int)
            and not isinstance(job, bool)
            and isinstance(issued, int | float)
            and not isinstance(issued, bool)
        )
        if not valid:
            raise InvalidToken("the stream token is invalid")
        if job != job_id:
            raise InvalidToken("this stream token is for another job")
        return StreamClaims(int(subject), job, float(issued))

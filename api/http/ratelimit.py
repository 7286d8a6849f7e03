"""Credential checks (login, registration, password change), limited per client address and
per account from that address (`limits`).

Never per account alone: then anyone could lock a user out by failing to log in as them (or
registering their e-mail) ten times. A password change, which needs the account's own access
token, also counts per account from every address together.

Storage is in memory by default (per process: with several workers each counts its own
attempts); `REDIS_URL` (or `RATE_LIMIT_STORAGE_URL=redis://host:6379/0`) shares the counters
between every worker and host. `limits`' asyncio Redis storage defaults to the coredis client;
this service talks to Redis through redis-py (`redis.asyncio`), the one Redis client it
depends on, so a redis:// URL is opened as `async+redis://` with `implementation="redispy"`.
A moving window: an attacker cannot burst at a window's edge.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from api.core.shared_redis import display_url
from nogilbench.errors import NogilbenchError

logger = logging.getLogger("api.http.ratelimit")

NAMESPACE = "nogilbench-auth"
REDIS_SCHEMES = ("async+redis", "async+rediss", "async+redis+unix")


class RateLimited(NogilbenchError):
    error_code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class RateLimitUnavailable(NogilbenchError):
    error_code = "RATE_LIMIT_UNAVAILABLE"


def parse_limit(text: str) -> RateLimitItem:
    """`10/minute`, `100 per hour`, ... (raises ValueError with the setting's text)."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"not a rate limit: {text!r} (e.g. '10/minute')") from None


def open_storage(storage_url: str) -> Storage:
    """The asyncio `limits` storage of a URL: memory://, redis://, rediss://, redis+unix://
    (or their async+ forms); Redis through redis-py. ValueError names the setting."""
    scheme = storage_url.split("://", 1)[0].lower()
    url = storage_url if scheme.startswith("async+") else f"async+{storage_url}"
    options: dict[str, str] = {}
    if url.split("://", 1)[0].lower() in REDIS_SCHEMES:
        options["implementation"] = "redispy"
    try:
        storage = storage_from_string(url, **options)
    except ConfigurationError as exc:
        raise ValueError(
            f"RATE_LIMIT_STORAGE_URL {display_url(storage_url)!r}: {exc} "
            "(Redis needs the `redis` package)"
        ) from None
    assert isinstance(storage, Storage)
    return storage


class AuthRateLimiter:
    """Counts an attempt against the client address and the account-and-address; 429 past
    either."""

    def __init__(self, storage_url: str, per_account: str, per_address: str) -> None:
        self.storage = open_storage(storage_url)
        self._limiter = MovingWindowRateLimiter(self.storage)
        self.per_account = parse_limit(per_account)
        self.per_address = parse_limit(per_address)

    async def hit(self, account: str, address: str, *, account_wide: bool = False) -> None:
        """Record one attempt; RateLimited (with the seconds to wait) once over a limit.

        `account_wide`: also count the account from every address (only for callers that
        already hold the account's token, who alone could use it up)."""
        account = account.strip().lower()
        checks = [
            (self.per_address, ("address", address), "from this address"),
            (
                self.per_account,
                ("account-address", account, address),
                "for this account from this address",
            ),
        ]
        if account_wide:
            checks.append((self.per_account, ("account", account), "for this account"))
        for item, key, whom in checks:
            try:
                allowed = await self._limiter.hit(item, NAMESPACE, *key)
                if allowed:
                    continue
                stats = await self._limiter.get_window_stats(item, NAMESPACE, *key)
            except Exception as exc:  # the shared storage (Redis) is down: refuse, never skip
                logger.warning("rate-limit storage unavailable: %s", exc)
                raise RateLimitUnavailable("the rate limiter is unavailable; retry later") from None
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(
                f"too many attempts {whom}; retry in {retry_after} s", retry_after=retry_after
            )

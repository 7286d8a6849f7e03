"""The Redis every process shares (REDIS_URL): one way to open it, and its address for logs.

redis-py is imported only here and only when Redis is configured: the embedded default (one
process, SQLite) needs no Redis and no client library.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import redis
    import redis.asyncio

# A command that waits longer than this on a shared Redis fails instead of hanging a request.
SOCKET_TIMEOUT_S = 5.0


class RedisMissing(ValueError):
    """REDIS_URL is set but redis-py is not installed."""


def display_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _require() -> None:
    if find_spec("redis") is None:
        raise RedisMissing("REDIS_URL is set but the `redis` package (redis-py) is not installed")


def async_client(url: str, timeout_s: float = SOCKET_TIMEOUT_S) -> redis.asyncio.Redis:
    """An asyncio client (its connections are made in the loop that first uses them)."""
    _require()
    import redis.asyncio

    return redis.asyncio.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )


def sync_client(url: str, timeout_s: float = SOCKET_TIMEOUT_S) -> redis.Redis:
    """A blocking client, safe to share between threads (a connection pool)."""
    _require()
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)

"""A real, throw-away Redis server for the tests: `loadtest.redis_server`, which the engine's
pool measurements share (loadtest may not import tests/)."""

from __future__ import annotations

from loadtest.redis_server import START_TIMEOUT_S, RedisServer, RedisUnavailable

__all__ = ["START_TIMEOUT_S", "RedisServer", "RedisUnavailable"]

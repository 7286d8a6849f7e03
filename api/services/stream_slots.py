"""The event-stream quota (QUOTA_EVENT_STREAMS): open streams per user, in this process or,
with REDIS_URL, in every process and host together.

A slot is held by one open stream. In Redis a user's slots are a sorted set of holders scored
by when their lease ends (Redis's own clock: hosts' clocks never compare); an open stream
renews its lease, so the slots of a process that died free themselves within `LEASE_S`.
Taking a slot is one Lua script (drop lapsed leases, count, add): two processes racing for a
user's last slot never both get it.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Protocol

from api.services.slots import PerUserSlots

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger("api.services.stream_slots")

LEASE_S = 60.0  # a slot of a stream nobody renews (its process died) is free after this
RENEW_S = LEASE_S / 4  # an open stream renews its slot this often (it wakes at least every 5 s)
KEY = "nogilbench:streams:{user_id}"

# KEYS[1] the user's set; ARGV: limit, holder, lease in ms. 1 when taken, else 0.
_TAKE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""
# KEYS[1] the user's set; ARGV: holder, lease in ms. Only a holder still in the set is renewed.
_RENEW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return renewed
"""


class SlotsUnavailable(Exception):
    """The shared counter (Redis) cannot be reached."""


class StreamSlots(Protocol):
    limit: int

    async def take(self, user_id: int) -> str | None:
        """A holder id for a new stream of the user, or None when all slots are taken."""

    async def renew(self, user_id: int, holder: str) -> None:
        """Keep the slot (an open stream calls this every RENEW_S)."""

    async def give_back(self, user_id: int, holder: str) -> None:
        """Free the slot (the stream ended)."""


class LocalStreamSlots:
    """This process's streams only (the embedded default)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = PerUserSlots(limit)

    async def take(self, user_id: int) -> str | None:
        return uuid.uuid4().hex if self._slots.take(user_id) else None

    async def renew(self, user_id: int, holder: str) -> None:
        return None

    async def give_back(self, user_id: int, holder: str) -> None:
        self._slots.give_back(user_id)


class RedisStreamSlots:
    """Every process's streams, counted in the shared Redis."""

    def __init__(self, client: redis.asyncio.Redis, limit: int, lease_s: float = LEASE_S) -> None:
        self.limit = limit
        self._client = client
        self._lease_ms = int(lease_s * 1000)
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)

    async def take(self, user_id: int) -> str | None:
        holder = uuid.uuid4().hex
        try:
            taken = await self._take(
                keys=[KEY.format(user_id=user_id)], args=[self.limit, holder, self._lease_ms]
            )
        except Exception as exc:  # redis-py's ConnectionError, TimeoutError, ...
            logger.warning("stream quota unavailable: %s", exc)
            raise SlotsUnavailable(str(exc)) from None
        return holder if int(taken) == 1 else None

    async def renew(self, user_id: int, holder: str) -> None:
        try:
            await self._renew(keys=[KEY.format(user_id=user_id)], args=[holder, self._lease_ms])
        except Exception as exc:  # the stream goes on; its slot may lapse meanwhile
            logger.warning("stream quota: could not renew a slot: %s", exc)

    async def give_back(self, user_id: int, holder: str) -> None:
        try:
            await self._client.zrem(KEY.format(user_id=user_id), holder)
        except Exception as exc:  # its lease ends it within LEASE_S anyway
            logger.warning("stream quota: could not free a slot: %s", exc)

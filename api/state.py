"""Everything one app instance owns, built at start-up and kept on `app.state.services`."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread

from api.database import Database
from api.limiter import CpuLimiter
from api.metrics import Metrics
from api.passwords import PasswordPool
from api.ratelimit import AuthRateLimiter
from api.security import PasswordHasher, TokenService
from api.services.job_runner import JobManager
from api.settings import Settings
from api.storage import FileStore

T = TypeVar("T")


class PerUserSlots:
    """At most `limit` of something open per user at once in this process (SSE streams)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}

    def take(self, user_id: int) -> bool:
        with self._lock:
            if self._open.get(user_id, 0) >= self.limit:
                return False
            self._open[user_id] = self._open.get(user_id, 0) + 1
            return True

    def give_back(self, user_id: int) -> None:
        with self._lock:
            left = self._open.get(user_id, 0) - 1
            if left > 0:
                self._open[user_id] = left
            else:
                self._open.pop(user_id, None)


async def in_thread(func: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Blocking I/O (database, files) off the event loop, on anyio's default thread pool."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


@dataclass
class AppServices:
    settings: Settings
    database: Database
    hasher: PasswordHasher
    tokens: TokenService
    uploads: FileStore
    outputs: FileStore
    results: FileStore
    metrics: Metrics
    cpu: CpuLimiter
    jobs: JobManager
    passwords: PasswordPool  # bcrypt: its own bounded pool, fair between clients
    auth_limits: AuthRateLimiter
    streams: PerUserSlots

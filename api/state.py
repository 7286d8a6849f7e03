"""Everything one app instance owns, built at start-up and kept on `app.state.services`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread

from api.database import Database
from api.metrics import Metrics
from api.ratelimit import AuthRateLimiter
from api.security import PasswordHasher, TokenService
from api.services.job_runner import JobManager
from api.settings import Settings
from api.storage import FileStore

T = TypeVar("T")


@dataclass
class CpuLimiter:
    """CPU-bound work leaves the event loop here, at most `size` tasks at a time.

    The wait for a token happens on the event loop (no thread is held while waiting), so a
    queue of image work never takes the threads that auth and database requests run on.
    """

    size: int

    def __post_init__(self) -> None:
        self._limiter = anyio.CapacityLimiter(self.size)

    async def run(self, func: Callable[..., T], *args: object, **kwargs: object) -> T:
        call = functools.partial(func, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    @property
    def borrowed(self) -> int:
        return int(self._limiter.borrowed_tokens)


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
    passwords: CpuLimiter  # bcrypt: its own bounded pool, apart from the image work
    auth_limits: AuthRateLimiter

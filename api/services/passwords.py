"""bcrypt work: a bounded pool of its own, shared fairly between clients.

The pool (`PASSWORD_HASH_WORKERS`) hands out its workers first come, first served. Alone,
that lets one client that sends many password checks at once queue ahead of everyone and
delay every other login by its whole backlog. So:

- each client address (and, for a password change, each account) has one check queued or
  running at a time: its further checks wait for it outside the pool, holding no thread, and
  another client's login waits at most for the checks already running;
- a check that had to wait for another of the same client's (it sent them in parallel, as
  a guesser does and a person logging in does not) runs on a low-priority thread (Linux:
  nice 19), so on a busy host the CPU goes to other clients' checks first, not half of it
  to the guesser's.

The rate limits (api/http/ratelimit.py) bound how many checks can wait.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import anyio.to_thread

from api.http import timing
from api.services.cpu_limiter import CpuLimiter

T = TypeVar("T")

LOW_PRIORITY_NICE = 19


def _lower_priority() -> None:
    """Run this thread at the lowest priority. Linux only: there the nice value belongs to the
    calling thread; elsewhere `setpriority(PRIO_PROCESS, 0)` would slow the whole server."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, LOW_PRIORITY_NICE)


class PasswordPool:
    """`await pool.run(keys, func, *args)`: `func` on the pool, one call per key at a time."""

    def __init__(self, workers: int) -> None:
        self.pool = CpuLimiter(workers)
        self._lock = threading.Lock()
        # key -> (its one-slot gate, requests holding or waiting for it); dropped at zero.
        self._gates: dict[str, tuple[CpuLimiter, int]] = {}
        self._low_priority = ThreadPoolExecutor(
            workers, thread_name_prefix="bcrypt-low", initializer=_lower_priority
        )

    @property
    def size(self) -> int:
        return self.pool.size

    async def run(
        self, keys: Iterable[str], func: Callable[..., T], *args: object, **kwargs: object
    ) -> T:
        call = functools.partial(func, *args, **kwargs)
        ordered = sorted(set(keys))  # sorted: no lock-order deadlock between two requests
        async with self._one_at_a_time(ordered) as waited:
            if waited:
                return await self._run_low_priority(call)
            return await self.pool.run(call)

    async def _run_low_priority(self, call: Callable[[], T]) -> T:
        with timing.phase("queue"):
            await self.pool.acquire()
        try:
            with timing.phase("work"), anyio.CancelScope(shield=True):
                # A check cannot be stopped: a cancelled caller still waits for it, so the
                # worker's token is never given back while the check runs.
                return await anyio.to_thread.run_sync(
                    self._low_priority.submit(call).result, abandon_on_cancel=False
                )
        finally:
            self.pool.release()

    @asynccontextmanager
    async def _one_at_a_time(self, keys: list[str]) -> AsyncIterator[bool]:
        """Hold each key's gate; yields whether another check of one of them came first."""
        held: list[tuple[str, CpuLimiter]] = []
        waited = False
        try:
            for key in keys:
                gate, busy = self._enter(key)
                waited = waited or busy
                try:
                    await gate.acquire()
                except BaseException:  # cancelled while waiting (the client went away)
                    self._leave(key)
                    raise
                held.append((key, gate))
            yield waited
        finally:
            for key, gate in reversed(held):
                gate.release()
                self._leave(key)

    def _enter(self, key: str) -> tuple[CpuLimiter, bool]:
        with self._lock:
            gate, users = self._gates.get(key) or (CpuLimiter(1), 0)
            self._gates[key] = (gate, users + 1)
            return gate, users > 0

    def _leave(self, key: str) -> None:
        with self._lock:
            gate, users = self._gates[key]
            if users > 1:
                self._gates[key] = (gate, users - 1)
            else:
                del self._gates[key]

    @property
    def keys_in_use(self) -> int:
        """Keys with a check queued or running (none are kept once idle)."""
        with self._lock:
            return len(self._gates)

    def close(self) -> None:
        self._low_priority.shutdown(wait=False, cancel_futures=True)

"""The CPU limiter: one pool of tokens for image work, shared by requests and job threads."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread

from api.http import timing

T = TypeVar("T")


class CpuLimiter:
    """CPU-bound work runs here, at most `size` tokens at a time, for requests and jobs alike.

    One pool of tokens shared by the event loop (`run`: the wait happens on the loop, no
    thread is held while waiting) and by job threads (`hold`: a batch takes one token per
    worker, chunk by chunk). Tokens are handed out first come, first served, so a batch
    cannot starve single requests and requests cannot starve a batch. (anyio's
    CapacityLimiter cannot be shared with plain threads, hence this small one.)
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the CPU limiter needs at least one token")
        self.size = size
        self._lock = threading.Lock()
        self._free = size
        self._waiters: deque[_Waiter] = deque()

    # -- tokens ----------------------------------------------------------------------------

    def _try_take(self, count: int, waiter: _Waiter) -> bool:
        with self._lock:
            if not self._waiters and self._free >= count:
                self._free -= count
                return True
            self._waiters.append(waiter)
            return False

    def release(self, count: int = 1) -> None:
        with self._lock:
            self._free += count
            # FIFO: the head waiter gets its tokens before anyone behind it.
            while self._waiters and self._waiters[0].count <= self._free:
                waiter = self._waiters.popleft()
                self._free -= waiter.count
                waiter.granted = True
                waiter.wake()

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gave up (cancelled): drop it, or give back what it was granted."""
        with self._lock:
            if not waiter.granted:
                self._waiters.remove(waiter)
                granted = 0
            else:
                granted = waiter.count
        if granted:
            self.release(granted)
        else:
            self.release(0)  # the head may have changed: let the next waiters through

    async def acquire(self, count: int = 1) -> None:
        count = min(count, self.size)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))

        waiter = _Waiter(count, wake)
        if self._try_take(count, waiter):
            return
        try:
            await future
        except BaseException:
            self._abandon(waiter)
            raise

    @contextmanager
    def hold(self, count: int = 1, stop: threading.Event | None = None) -> Iterator[int]:
        """Block the calling (non-event-loop) thread until `count` tokens are free; yields
        how many it holds. With `stop`, gives up (JobStopped-style) once `stop` is set."""
        count = min(count, self.size)
        event = threading.Event()
        waiter = _Waiter(count, event.set)
        if not self._try_take(count, waiter):
            while not event.wait(0.1):
                if stop is not None and stop.is_set():
                    self._abandon(waiter)
                    raise LimiterWaitStopped
        try:
            yield count
        finally:
            self.release(count)

    # -- work ------------------------------------------------------------------------------

    async def run(self, func: Callable[..., T], *args: object, **kwargs: object) -> T:
        with timing.phase("queue"):  # waiting for a CPU token
            await self.acquire()
        try:
            call = functools.partial(func, *args, **kwargs)
            with timing.phase("work"):  # the thread hop and the work itself
                return await anyio.to_thread.run_sync(call, limiter=self._threads)
        finally:
            self.release()

    @functools.cached_property
    def _threads(self) -> anyio.CapacityLimiter:
        # Threads for the work itself: one per token is enough, the tokens bound the rest.
        return anyio.CapacityLimiter(self.size)

    @property
    def borrowed(self) -> int:
        with self._lock:
            return self.size - self._free


class LimiterWaitStopped(Exception):
    """`CpuLimiter.hold` gave up waiting because its stop event was set."""


@dataclass(eq=False)
class _Waiter:
    count: int
    wake: Callable[[], None]
    granted: bool = False

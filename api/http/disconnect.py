"""CPU work a request started stops when its client hangs up.

A request's image work waits for a CPU token, then runs in a worker thread; nobody would read
its answer once the client is gone. `ClientWatch.run` runs the work while it listens for the
request's ASGI `http.disconnect` (the body has been read by then, so the next message is the
disconnect). If the disconnect comes first, the work is cancelled: a request still queued for
a token leaves the queue, and one that is running stops at its next safe point, where the
worker thread calls `checkpoint` (between decoding, each operation and encoding). The token
is given back when the thread has stopped, so cancelling never over-commits the cores.

Only the CPU phase is run this way: a database commit or a file write is never cut short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import anyio.from_thread
from starlette.types import Receive

from nogilbench.errors import NogilbenchError

T = TypeVar("T")


class ClientGone(NogilbenchError):
    """The client disconnected before its work was done (logged as 499; nobody reads it)."""

    error_code = "CLIENT_DISCONNECTED"


def checkpoint() -> None:
    """In a worker thread started by the event loop: raise if its request was cancelled."""
    anyio.from_thread.check_cancelled()


class ClientWatch:
    """Runs a request's work until its client disconnects; `ClientWatch(None)` never does."""

    def __init__(self, receive: Receive | None) -> None:
        self._receive = receive

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._receive is None:
            return await work()
        receive = self._receive
        # One cancel scope around the work, cancelled by a plain asyncio task that listens:
        # cheaper per request than a task group, whose cancel (on every request, when the
        # work ends) formats the task's repr. The scope is cancelled only on a disconnect.
        with anyio.CancelScope() as scope:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass  # the body was read already: nothing else is expected
                scope.cancel()

            watcher = asyncio.get_running_loop().create_task(watch())
            try:
                outcome = await work()
            finally:
                watcher.cancel()
        if scope.cancelled_caught:
            raise ClientGone("the client disconnected; its work was stopped")
        return outcome


NO_WATCH = ClientWatch(None)

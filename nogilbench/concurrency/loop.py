"""The `asyncio-loop` method: every item's work runs on the event loop's own thread.

Beside `asyncio` (the loop hands each item to a thread pool), this is asyncio as an async
service runs it: a step with an async form (`asyncform.with_async`, e.g. an HTTP fetch over
asyncio streams) is awaited, so up to `workers` items wait at once on one thread; a step
without one (CPU work) runs to completion on the loop, blocking it, one item at a time
whatever `workers` says. No thread pool, no executor: one thread does everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from nogilbench.concurrency.asyncform import async_form_of
from nogilbench.concurrency.base import Runner, gather_all


async def _step(function: Callable[[Any], Any], value: Any) -> Any:
    form = async_form_of(function)
    return await form(value) if form is not None else function(value)


class LoopRunner(Runner):
    """One event loop for the runner's whole life; `workers` bounds the items in flight."""

    method = "asyncio-loop"
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def expected_workers(self) -> int:
        return 1  # the loop's thread, whatever the workers setting

    def _open(self) -> None:
        self.loop = asyncio.new_event_loop()

    def _close(self) -> None:
        if self.loop is not None:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()
                self.loop = None

    def _map(self, compute, items, load, on_result):  # type: ignore[no-untyped-def]
        if self.loop is None:
            raise RuntimeError("use the runner as a context manager")
        return self.loop.run_until_complete(self._amap(compute, items, load, on_result))

    async def _amap(self, compute, items, load, on_result):  # type: ignore[no-untyped-def]
        limit = asyncio.Semaphore(self.workers)

        async def one(index: int, item: Any) -> Any:
            async with limit:
                data = await _step(load, item) if load is not None else item
                result = await _step(compute, data)
            if on_result is not None:
                on_result(index, result)
            return result

        tasks = [asyncio.ensure_future(one(i, item)) for i, item in enumerate(items)]
        return await gather_all(tasks)

"""One interface over every concurrency model: `make_runner(method, workers)`.

A runner is a context manager that owns its pool for its whole life, so a benchmark cell
can warm it up once and time only steady-state work, and the API can keep one per job.

    with make_runner("threading", 4) as runner:
        digests = runner.map(compute, paths, load=read_bytes)

`map` returns results in input order; `on_result(index, result)` is called as each item
finishes (progress bars, job progress). With `load`, each item is first turned into the
compute input by `load(item)`: the asyncio runner awaits that step off the event loop
(async file I/O) and sends only `compute` to its executor; the others run both in the worker.
Methods that cannot run on this interpreter raise `MethodUnavailable` with the reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import sys
from typing import Any

from nogilbench.concurrency.base import (
    MethodUnavailable,
    Runner,
    _call,
    gather_all,
    gil_enabled,
)
from nogilbench.errors import NogilbenchError

METHODS = ("sync", "asyncio", "threading", "multiprocessing", "free-threaded", "subinterpreters")


# Methods a sweep can ask for by name but that the default sweep leaves out: `asyncio-loop`
# (the work on the event loop itself) answers questions of the workloads sweep.
ALL_METHODS = (*METHODS, "asyncio-loop")


MATRIX_METHODS = ("sync", "threading", "multiprocessing", "free-threaded")  # the 48-cell matrix


# On a free-threaded build these run with -X gil=1, so the GIL is the only variable between
# `threading` and `free-threaded`; every other method runs in the build's own mode (GIL off).
GIL_ON_METHODS = ("sync", "threading", "multiprocessing")


class SyncRunner(Runner):
    """One item after another in the calling thread: the baseline."""

    method = "sync"

    @property
    def expected_workers(self) -> int:
        return 1  # the calling thread, whatever the workers setting

    def _map(self, compute, items, load, on_result):  # type: ignore[no-untyped-def]
        results = []
        for index, item in enumerate(items):
            result = _call(load, compute, item)
            if on_result is not None:
                on_result(index, result)
            results.append(result)
        return results


class PoolRunner(Runner):
    """Runs items on a concurrent.futures executor created by `_make_executor`."""

    executor: cf.Executor | None = None

    def _make_executor(self) -> cf.Executor:
        raise NotImplementedError

    def _open(self) -> None:
        self.executor = self._make_executor()

    def _close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def _map(self, compute, items, load, on_result):  # type: ignore[no-untyped-def]
        if self.executor is None:
            raise RuntimeError("use the runner as a context manager")
        futures = {
            self.executor.submit(_call, load, compute, item): index
            for index, item in enumerate(items)
        }
        results: list[Any] = [None] * len(items)
        try:
            for future in cf.as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                if on_result is not None:
                    on_result(index, results[index])
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return results


class ThreadRunner(PoolRunner):
    """Threads in one process. `threading` expects the GIL on, `free-threaded` off."""

    def __init__(self, workers: int, method: str) -> None:
        super().__init__(workers)
        self.method = method
        if method == "free-threaded" and gil_enabled():
            raise MethodUnavailable(
                "free-threaded needs a free-threaded CPython build running with the GIL "
                f"disabled (-X gil=0); this interpreter ({sys.version.split()[0]}) has it enabled"
            )

    def _make_executor(self) -> cf.Executor:
        return cf.ThreadPoolExecutor(self.workers, thread_name_prefix=f"nogilbench-{self.method}")


class ProcessRunner(PoolRunner):
    """A process pool; items travel as paths (small pickles), never as pixels."""

    method = "multiprocessing"

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        super().__init__(workers)
        available = multiprocessing.get_all_start_methods()
        # forkserver where available: the default from 3.14 on, and safe in a threaded parent.
        chosen = start_method or ("forkserver" if "forkserver" in available else available[0])
        if chosen not in available:
            raise NogilbenchError(
                f"start method {chosen!r} is not available here; choose from {', '.join(available)}"
            )
        self.details["start_method"] = chosen

    def _make_executor(self) -> cf.Executor:
        context = multiprocessing.get_context(self.details["start_method"])
        if self.details["start_method"] == "forkserver":
            # Workers fork from a server that already imported the workloads (Pillow and
            # all): each worker then starts in milliseconds, as in a long-running service.
            context.set_forkserver_preload(["nogilbench.concurrency.workloads"])
        return cf.ProcessPoolExecutor(self.workers, mp_context=context)


class AsyncioRunner(Runner):
    """One event loop and one thread pool for the runner's whole life.

    Both are created in `_open` (before any warm-up), so thread start-up and shutdown stay
    outside every timed `map`. Loads and CPU work go to the same pool: the semaphore keeps
    at most `workers` items in flight, so the pool never has more than `workers` jobs.
    """

    method = "asyncio"
    loop: asyncio.AbstractEventLoop | None = None
    pool: cf.ThreadPoolExecutor | None = None

    def _open(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="nogilbench-asyncio")
        self.loop.set_default_executor(self.pool)  # asyncio.to_thread etc. use it too

    def _close(self) -> None:
        if self.loop is not None:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            finally:
                self.loop.close()
                self.loop = None
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _map(self, compute, items, load, on_result):  # type: ignore[no-untyped-def]
        if self.loop is None:
            raise RuntimeError("use the runner as a context manager")
        return self.loop.run_until_complete(self._amap(compute, items, load, on_result))

    async def _amap(self, compute, items, load, on_result):  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(self.workers)

        async def one(index: int, item: Any) -> Any:
            async with limit:
                data = await loop.run_in_executor(self.pool, load, item) if load else item
                result = await loop.run_in_executor(self.pool, compute, data)
            if on_result is not None:
                on_result(index, result)
            return result

        tasks = [asyncio.ensure_future(one(i, item)) for i, item in enumerate(items)]
        return await gather_all(tasks)


def make_runner(method: str, workers: int, *, start_method: str | None = None) -> Runner:
    """Build the runner for `method`; raises NogilbenchError / MethodUnavailable."""
    if method == "sync":
        return SyncRunner(workers)
    if method in ("threading", "free-threaded"):
        return ThreadRunner(workers, method)
    if method == "multiprocessing":
        return ProcessRunner(workers, start_method)
    if method == "asyncio":
        return AsyncioRunner(workers)
    if method == "asyncio-loop":
        from nogilbench.concurrency.loop import LoopRunner  # the work on the loop itself

        return LoopRunner(workers)
    if method == "subinterpreters":
        from nogilbench.concurrency.subinterpreters import (
            InterpreterRunner,  # imports the PEP 734 API
        )

        return InterpreterRunner(workers)
    raise NogilbenchError(f"unknown method {method!r}; choose from {', '.join(ALL_METHODS)}")

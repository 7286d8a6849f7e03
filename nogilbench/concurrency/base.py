"""The runner interface every concurrency model implements, and what a worker reports of
itself (process, thread, GIL state) so a cell can prove the model it claims ran."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

from nogilbench.errors import NogilbenchError

MAX_WORKERS = 256  # a bound on every pool, from every face
OBSERVE_SLEEP_S = 0.01  # first probe length; doubled on each retry


OBSERVE_ATTEMPTS = 5  # 10 ms .. 160 ms probes before a missing worker is reported


OnResult = Callable[[int, Any], None]


class MethodUnavailable(NogilbenchError):
    """The method exists but this interpreter cannot run it (reason in the message)."""

    error_code = "METHOD_UNAVAILABLE"


def gil_enabled() -> bool:
    """The GIL state of the calling interpreter right now (always True before 3.13)."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


WorkerSeen = tuple[int, int, bool]  # process id, thread id, GIL enabled


def observe_worker() -> WorkerSeen:
    """Run inside a worker: its process id, its thread id and the GIL state it sees."""
    return os.getpid(), threading.get_ident(), gil_enabled()


def _call(load: Callable[[Any], Any] | None, compute: Callable[[Any], Any], item: Any) -> Any:
    # Top-level so process and interpreter pools can pickle it by reference.
    return compute(load(item) if load is not None else item)


def _observe_slowly(delay: float) -> WorkerSeen:
    time.sleep(delay)  # keeps one worker from taking every probe
    return observe_worker()


class Runner:
    """Base class; subclasses implement `_open`, `_map` and `_close`."""

    method: str = ""

    def __init__(self, workers: int) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise NogilbenchError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
        self.workers = workers
        self.details: dict[str, Any] = {}

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()

    def map(
        self,
        compute: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        load: Callable[[Any], Any] | None = None,
        on_result: OnResult | None = None,
    ) -> list[Any]:
        return self._map(compute, list(items), load, on_result)

    @property
    def expected_workers(self) -> int:
        """How many distinct workers should answer a probe."""
        return self.workers

    def observe_workers(self) -> list[WorkerSeen]:
        """(pid, thread id, GIL enabled) as seen inside the workers, one entry per worker.

        Probes sleep a little so that every pooled thread or process takes some; pools that
        start workers on demand (process pools) may need a few rounds of longer probes
        before the last worker answers. The count of distinct (pid, thread) pairs is the
        number of workers that really ran.
        """
        seen: set[WorkerSeen] = set()
        for attempt in range(OBSERVE_ATTEMPTS):
            delay = OBSERVE_SLEEP_S * 2**attempt
            seen |= set(self.map(_observe_slowly, [delay] * (self.workers * 2)))
            if len({(pid, tid) for pid, tid, _ in seen}) >= self.expected_workers:
                break
        return sorted(seen)

    def check_work(self, compute: Callable[[Any], Any]) -> None:
        """Raise MethodUnavailable if this runner cannot run `compute` here (call before use).

        Only sub-interpreters can refuse: a kernel's module may not load in them."""

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _map(
        self,
        compute: Callable[[Any], Any],
        items: list[Any],
        load: Callable[[Any], Any] | None,
        on_result: OnResult | None,
    ) -> list[Any]:
        raise NotImplementedError


async def gather_all(tasks: list[asyncio.Future[Any]]) -> list[Any]:
    """Every task's result, in order; on a failure the others are cancelled and awaited, so
    nothing is left running in the loop between maps (the asyncio runners share this)."""
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise

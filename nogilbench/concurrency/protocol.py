"""The workload protocol: what a workload factory returns (see docs/workloads.md).

Stdlib only, so a user's workload module that imports `Workload` from here still loads in
a sub-interpreter (`nogilbench.concurrency.workloads`, the registry, imports Pillow).
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

MAX_NAME = 40  # the stored `workload` column's width


def output_digest(output: Any) -> str:
    """The default check of one item's output: short texts as they are, anything else a
    SHA-1 of its bytes (bytes-like) or of its repr (numbers, tuples, lists, dicts)."""
    if isinstance(output, str) and len(output) <= MAX_NAME:
        return output
    if isinstance(output, bytes | bytearray | memoryview):
        data = bytes(output)
    else:
        data = repr(output).encode()
    return hashlib.sha1(data).hexdigest()[:16]


@dataclass(frozen=True)
class Workload:
    """What a factory returns: one item's work, how items are made, how outputs are checked.

    - `compute(data) -> output`: one item's work. It runs in every method's workers, so it
      must be a module-level function (or a picklable callable such as `Staged`) for
      multiprocessing, and a module-level function of a module a sub-interpreter can import
      (stdlib only, or `Staged(prepare, kernel)`: prepare in the main interpreter) for
      subinterpreters; otherwise those cells are `unavailable` with the reason.
    - `load(item) -> data` (optional): an I/O step timed with the work. The `asyncio` method
      runs it and `compute` on its thread pool; `asyncio-loop` awaits its async form
      (`nogilbench.concurrency.asyncform.with_async`) on the event loop, else calls it there.
    - `items(paths)`: the sweep's sample image paths (one per item, `images` of them) to this
      workload's items, made in the cell's process before any timing: a list, or a context
      manager yielding the list and kept open for the whole cell (a server, shared memory).
      Default: the paths themselves.
    - `digest(output) -> str`: the check. Every method must produce, item by item, the
      digests `sync` produces (`output_digest` by default).
    - `summary(outputs) -> dict` (optional): what the workload measured itself, stored with
      each measurement (details["workload"]).
    - `suggested_workers`: worker counts that make sense for this work (waiting work: well
      past the cores); exposed for the sweep's parameters, not applied by itself.
    """

    name: str
    compute: Callable[[Any], Any]
    load: Callable[[Any], Any] | None = None
    items: Callable[[list[str]], Any] | None = None
    digest: Callable[[Any], str] = output_digest
    summary: Callable[[list[Any]], dict[str, Any]] | None = None
    suggested_workers: tuple[int, ...] = ()
    description: str = ""

    @contextmanager
    def opened(self, paths: Sequence[str]) -> Iterator[list[Any]]:
        """The cell's items, with whatever keeps them valid held open until the end."""
        made = list(paths) if self.items is None else self.items(list(paths))
        if isinstance(made, AbstractContextManager):
            with made as entered:
                yield list(entered)
        else:
            yield list(made)

    def run_one(self, item: Any) -> Any:
        """One item start to end in the calling thread (load, then compute)."""
        return self.compute(self.load(item) if self.load is not None else item)


def median_ms(values: Sequence[float]) -> float | None:
    """Median of seconds, in milliseconds (None when empty): for `summary` functions."""
    return round(1000 * statistics.median(values), 4) if values else None

"""Shared state: where free-threaded threads stop scaling, and a share-nothing baseline.

In the spirit of CPython's Tools/ftscalingbench (small loops that ought to scale and have
not, through reference-count or lock contention), each item runs `OPERATIONS` iterations of
the same arithmetic plus one operation on an object:

- `shared-dict`: a module-level dict cache every thread reads and writes (a get and a set per
  iteration over `KEYS` keys): the threads contend on one dict's lock and on its values'
  reference counts;
- `shared-lock`: a module-level counter incremented under one `threading.Lock`: the
  threads take turns, whatever the GIL does;
- `shared-list`: a module-level list, appended to and popped from and read by every thread;
- `share-nothing`: the `shared-dict` loop on a dict of the item's own (the baseline: same
  operations, nothing shared).

Every output is deterministic whatever the interleaving (each read returns a value every
writer agrees on, and pops are never read), so every method's digests match sync's.
Threads share the module's objects; processes and sub-interpreters each have their own copy
(nothing shared: that is their answer to contention). Stdlib only (runs in sub-interpreters).
"""

from __future__ import annotations

import threading
from typing import Any

from nogilbench.concurrency.protocol import Workload

OPERATIONS = 50_000  # per item: tens of milliseconds of pure-Python work on one core
KEYS = 512

_CACHE: dict[int, int] = {}
_LOCK = threading.Lock()
_COUNTER = [0]
_SHARED_LIST: list[int] = list(range(KEYS))  # pops never reach these: reads stay the same


def _value(key: int) -> int:
    return (key * 2654435761) % 1000003  # a cheap value every writer agrees on


def _dict_loop(cache: dict[int, int], item: int) -> int:
    total = 0
    for i in range(OPERATIONS):
        key = (item + i) % KEYS
        value = cache.get(key)
        if value is None:
            value = _value(key)
        cache[key] = value  # a write every iteration: readers and writers meet
        total += value
    return total


def shared_dict(item: int) -> int:
    return _dict_loop(_CACHE, item)


def share_nothing(item: int) -> int:
    return _dict_loop({}, item)


def shared_lock(item: int) -> int:
    total = 0
    for i in range(OPERATIONS):
        with _LOCK:
            _COUNTER[0] += 1
        total += _value((item + i) % KEYS)
    return total


def shared_list(item: int) -> int:
    shared = _SHARED_LIST
    total = 0
    for i in range(OPERATIONS):
        key = (item + i) % KEYS
        shared.append(key)
        shared.pop()  # some thread's append: never read
        total += shared[key] + _value(key)
    return total


def numbered(paths: list[str]) -> list[int]:
    """One item per sample image: its index (the images themselves are not read)."""
    return list(range(len(paths)))


def _workload(name: str, compute: Any, description: str) -> Workload:
    return Workload(name, compute, items=numbered, description=description)


def shared_dict_workload() -> Workload:
    return _workload("shared-dict", shared_dict, "get and set on one dict every thread shares")


def shared_lock_workload() -> Workload:
    return _workload("shared-lock", shared_lock, "a counter every thread increments under a lock")


def shared_list_workload() -> Workload:
    return _workload("shared-list", shared_list, "append, pop and read on one shared list")


def share_nothing_workload() -> Workload:
    return _workload("share-nothing", share_nothing, "the shared-dict loop on the item's own dict")

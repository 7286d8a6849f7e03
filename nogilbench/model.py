"""The shared vocabulary: what identifies a cell and a group, and the facts every layer
agrees on about them. Stdlib only: the worker process, the store and the report all use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CellKey = tuple[str, str, int, int, str]  # workload, method, workers, images, interpreter
GroupKey = tuple[str, int]  # workload, images: the cells of one round, paired with each other

# Interpreter roles, as a sweep stores them in its `interpreters` list.
ROLE_FREE_THREADED = "free-threaded"  # the free-threaded build: the 48-cell matrix runs here
ROLE_DEFAULT_BUILD = "default-build"  # the default (GIL) build of the same version
ROLE_CURRENT = "current"  # whatever runs the orchestrator (tests, tiny sweeps)


def _getter(row: Mapping[str, Any] | object) -> Any:
    if isinstance(row, Mapping):
        return row.get
    return lambda name: getattr(row, name)


def cell_key(row: Mapping[str, Any] | object) -> CellKey:
    """The key of a measurement, a result row or a summary (a dict or an object)."""
    get = _getter(row)
    return (
        str(get("workload")), str(get("method")), int(get("workers")), int(get("images")),
        str(get("interpreter")),
    )  # fmt: skip


def group_key(row: Mapping[str, Any] | object) -> GroupKey:
    get = _getter(row)
    return (str(get("workload")), int(get("images")))


def is_oversubscribed(method: str, workers: int, cores: int) -> bool:
    """More workers than usable cores (sync runs one item at a time whatever it is given)."""
    return method != "sync" and workers > cores

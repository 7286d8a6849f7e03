"""A sweep's cells: which interpreter runs which method at which worker and image count,
and the groups of cells that are compared with each other (one workload and image count)."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from nogilbench.concurrency.runners import ALL_METHODS, GIL_ON_METHODS, MATRIX_METHODS
from nogilbench.host.interpreters import (
    InterpreterInfo,
    InterpreterUnavailable,
    current,
    find_default_build,
    find_free_threaded,
    usable_cores,
)
from nogilbench.model import ROLE_DEFAULT_BUILD, ROLE_FREE_THREADED, CellKey
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.launch import interpreter_label
from nogilbench.sweep.worker import CellSpec


@dataclass(frozen=True)
class PlannedCell:
    spec: CellSpec
    interpreter: InterpreterInfo | None  # None: cannot run here, see `unavailable`
    label: str
    unavailable: str | None = None

    @property
    def key(self) -> CellKey:
        spec = self.spec
        return (spec.workload, spec.method, spec.workers, len(spec.paths), self.label)

    @property
    def order_key(self) -> list[Any]:
        """How the cell is named in a stored round order (JSON)."""
        return [self.spec.method, self.spec.workers, self.label]


@dataclass(frozen=True)
class Group:
    """The cells compared with each other: one workload and image count."""

    workload: str
    images: int
    cells: list[PlannedCell]

    def shuffled(self, seed: int, number: int) -> list[list[Any]]:
        """Round `number`'s order: seeded, so a plan is reproducible from its parameters."""
        order = [cell.order_key for cell in self.cells]
        random.Random(f"{seed}:{self.workload}:{self.images}:{number}").shuffle(order)
        return order

    def cell(self, order_key: list[Any]) -> PlannedCell | None:
        for cell in self.cells:
            if cell.order_key == list(order_key):
                return cell
        return None


@dataclass(frozen=True)
class Interpreters:
    """Which interpreter runs which cells in this sweep, and why."""

    main: InterpreterInfo
    free_threaded: InterpreterInfo | None
    free_threaded_reason: str
    baseline: InterpreterInfo | None

    @classmethod
    def discover(cls, want_baseline: bool = True) -> Interpreters:
        try:
            free_threaded: InterpreterInfo | None = find_free_threaded()
            reason = ""
        except InterpreterUnavailable as exc:
            free_threaded, reason = None, exc.reason
        baseline = None
        if want_baseline and free_threaded is not None:
            try:
                baseline = find_default_build()
            except InterpreterUnavailable:
                baseline = None
        main = free_threaded or current()
        return cls(main, free_threaded, reason, baseline)

    def as_list(self) -> list[dict[str, Any]]:
        found = [self.main] + ([self.baseline] if self.baseline else [])
        described = [{**info.as_dict(), "label": interpreter_label(info)} for info in found]
        if self.free_threaded is None:
            described.append({"role": ROLE_FREE_THREADED, "unavailable": self.free_threaded_reason})
        return described


def gil_requested(method: str, interpreter: InterpreterInfo) -> bool | None:
    """The GIL a cell asks for: on a free-threaded build, on for the same-binary rows
    (sync, threading, multiprocessing) and off for the others; None on a default build."""
    if not interpreter.free_threaded_build:
        return None
    return method in GIL_ON_METHODS


def worker_counts(config: SweepConfig, method: str, same_binary: bool, cores: int) -> list[int]:
    """`sync` ignores the worker count: one cell. Rows outside the same-binary matrix are
    measured up to the usable cores only, unless `past_cores` is "all" (the smallest
    requested count is kept if every count is past the cores)."""
    if method == "sync":
        return [1]
    counts = sorted(config.workers)
    if config.past_cores == "all" or (same_binary and method in MATRIX_METHODS):
        return counts
    return [count for count in counts if count <= cores] or counts[:1]


def plan(
    config: SweepConfig,
    paths: list[str],
    interpreters: Interpreters,
    cores: int | None = None,
) -> list[PlannedCell]:
    """Every cell of the sweep. `sync` ignores the worker count, so it is one cell (1 worker)
    per group and interpreter; its rounds are the replicates every speedup is paired with.
    In weak scaling, the group of w x images_per_worker images holds the w-worker cells."""
    cores = cores or usable_cores()
    cells: list[PlannedCell] = []
    main = interpreters.main
    main_label = interpreter_label(main)
    ordered_methods = sorted(config.methods, key=ALL_METHODS.index)
    baseline = interpreters.baseline if config.baseline else None

    def counts(method: str, same_binary: bool, images: int) -> list[int]:
        planned = worker_counts(config, method, same_binary, cores)
        if config.scaling == "weak" and method != "sync":
            return [w for w in planned if w * config.images_per_worker == images]
        return planned

    for workload in config.workloads:
        for count in config.image_counts():
            for method in ordered_methods:
                for workers in counts(method, True, count):
                    spec = CellSpec(workload, method, workers, paths[:count], 1,
                                    gil_requested(method, main), config.start_method)  # fmt: skip
                    if method == "free-threaded" and interpreters.free_threaded is None:
                        reason = (
                            f"no free-threaded interpreter: {interpreters.free_threaded_reason}"
                        )
                        cells.append(PlannedCell(spec, None, main_label, reason))
                    else:
                        cells.append(PlannedCell(spec, main, main_label))
            if baseline is None:
                continue
            for method in ordered_methods:
                if method == "free-threaded":  # needs the free-threaded build
                    continue
                for workers in counts(method, False, count):
                    spec = CellSpec(workload, method, workers, paths[:count], 1, None,
                                    config.start_method)  # fmt: skip
                    cells.append(PlannedCell(spec, baseline, interpreter_label(baseline)))
    return cells


def largest_plan(config: SweepConfig, cores: int | None = None) -> list[PlannedCell]:
    """The cells `config` plans when both builds are found: the most a sweep of it can run
    (a budget bound; the interpreters are placeholders, never started)."""
    main = InterpreterInfo(
        path="free-threaded", version="0", implementation="cpython", free_threaded_build=True,
        can_disable_gil=True, gil_enabled_default=False, has_interpreter_pool=False,
        pillow_version=None, psutil_version=None, role=ROLE_FREE_THREADED,
    )  # fmt: skip
    baseline = replace(main, path="default", free_threaded_build=False, role=ROLE_DEFAULT_BUILD)
    interpreters = Interpreters(main, main, "", baseline if config.baseline else None)
    return plan(config, [""] * max(config.image_counts()), interpreters, cores)


def group_cells(cells: list[PlannedCell]) -> list[Group]:
    grouped: dict[tuple[str, int], list[PlannedCell]] = {}
    for cell in cells:
        grouped.setdefault((cell.spec.workload, len(cell.spec.paths)), []).append(cell)
    return [Group(workload, images, members) for (workload, images), members in grouped.items()]


def unavailable_row(cell: PlannedCell) -> dict[str, Any]:
    spec = cell.spec
    return {
        "workload": spec.workload, "method": spec.method, "workers": spec.workers,
        "images": len(spec.paths), "interpreter": cell.label, "status": "unavailable",
        "error": cell.unavailable, "details": {"gil_requested": spec.gil_requested},
    }  # fmt: skip

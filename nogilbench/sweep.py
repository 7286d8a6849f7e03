"""A sweep: the matrix of cells, planned, run one fresh process at a time, stored as it goes.

Every finished cell is committed before the next one starts, and a sweep is found again by
its name, so a sweep killed at any moment resumes where it stopped: finished cells are
skipped, none is run or stored twice (the table's unique key enforces it as well).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from nogilbench import __version__
from nogilbench.cell import CellSpec
from nogilbench.errors import InvalidParameter, SweepCancelled
from nogilbench.images import DEFAULT_SIZE, MAX_SIDE, MIN_SIDE, generate_images
from nogilbench.interpreters import (
    InterpreterInfo,
    InterpreterUnavailable,
    current,
    find_default_build,
    find_free_threaded,
    host_info,
)
from nogilbench.launcher import DEFAULT_CELL_TIMEOUT_S, interpreter_label, measure_cell
from nogilbench.runners import MATRIX_METHODS, MAX_WORKERS, METHODS
from nogilbench.store import repository
from nogilbench.workloads import WORKLOADS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE_DIR = PROJECT_ROOT / "data" / "images"
MAX_IMAGES = 10_000
MAX_REPEATS = 100

# on_cell(finished, total, row): once with row=None before the first cell, then per cell.
OnCell = Callable[[int, int, dict[str, Any] | None], None]


@dataclass
class SweepConfig:
    """What to measure. The defaults are the 48-cell matrix for both workloads."""

    name: str = "default"
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    images: list[int] = field(default_factory=lambda: [10, 50, 100])
    workers: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    methods: list[str] = field(default_factory=lambda: list(MATRIX_METHODS))
    repeats: int = 3
    image_size: tuple[int, int] = DEFAULT_SIZE
    baseline: bool = True  # also time `sync` on a default (GIL) build of the same version
    start_method: str | None = None
    seed: int = 0

    def validate(self) -> SweepConfig:
        """Raise InvalidParameter on anything out of range; return self."""
        if not self.name or len(self.name) > 200:
            raise InvalidParameter("sweep name must have 1 to 200 characters")
        _check_choices("workload", self.workloads, WORKLOADS)
        _check_choices("method", self.methods, METHODS)
        _check_range("images", self.images, 1, MAX_IMAGES)
        _check_range("workers", self.workers, 1, MAX_WORKERS)
        if not 1 <= self.repeats <= MAX_REPEATS:
            raise InvalidParameter(
                f"repeats must be between 1 and {MAX_REPEATS}, got {self.repeats}"
            )
        width, height = self.image_size
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise InvalidParameter(
                f"image size sides must be between {MIN_SIDE} and {MAX_SIDE}, got {width}x{height}"
            )
        if self.start_method not in (None, "fork", "forkserver", "spawn"):
            raise InvalidParameter(f"unknown start method {self.start_method!r}")
        return self

    def parameters(self) -> dict[str, Any]:
        """JSON-ready form stored with the sweep (a resumed sweep must match it)."""
        values = asdict(self)
        values.pop("name")
        values["image_size"] = list(self.image_size)
        return values


def _check_choices(what: str, values: list[str], allowed: Any) -> None:
    if not values:
        raise InvalidParameter(f"at least one {what} is needed")
    for value in values:
        if value not in allowed:
            raise InvalidParameter(f"unknown {what} {value!r}; choose from {', '.join(allowed)}")


def _check_range(what: str, values: list[int], low: int, high: int) -> None:
    if not values:
        raise InvalidParameter(f"at least one value for {what} is needed")
    for value in values:
        if not low <= value <= high:
            raise InvalidParameter(f"{what} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class PlannedCell:
    spec: CellSpec
    interpreter: InterpreterInfo | None  # None: cannot run here, see `unavailable`
    label: str
    unavailable: str | None = None

    @property
    def key(self) -> repository.CellKey:
        spec = self.spec
        return (spec.workload, spec.method, spec.workers, len(spec.paths), self.label)


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
            described.append({"role": "free-threaded", "unavailable": self.free_threaded_reason})
        return described


def plan(config: SweepConfig, paths: list[str], interpreters: Interpreters) -> list[PlannedCell]:
    """Every cell of the sweep, `sync` first in each group so speedups fill in early."""
    cells: list[PlannedCell] = []
    main = interpreters.main
    main_label = interpreter_label(main)
    ordered_methods = sorted(config.methods, key=lambda m: (m != "sync", METHODS.index(m)))
    for workload in config.workloads:
        for count in sorted(config.images):
            for method in ordered_methods:
                for workers in sorted(config.workers):
                    gil = (method != "free-threaded") if main.free_threaded_build else None
                    spec = CellSpec(
                        workload, method, workers, paths[:count], config.repeats, gil,
                        config.start_method,
                    )  # fmt: skip
                    if method == "free-threaded" and interpreters.free_threaded is None:
                        reason = (
                            f"no free-threaded interpreter: {interpreters.free_threaded_reason}"
                        )
                        cells.append(PlannedCell(spec, None, main_label, reason))
                    else:
                        cells.append(PlannedCell(spec, main, main_label))
            if interpreters.baseline is not None and "sync" in config.methods:
                spec = CellSpec(workload, "sync", 1, paths[:count], config.repeats, None)
                baseline = interpreters.baseline
                cells.append(PlannedCell(spec, baseline, interpreter_label(baseline)))
    return cells


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"nogilbench": __version__}
    for name in ("pillow", "psutil", "sqlmodel", "sqlalchemy", "alembic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    commit = found.stdout.strip()
    if found.returncode != 0 or not commit:
        return None
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def unavailable_row(cell: PlannedCell) -> dict[str, Any]:
    spec = cell.spec
    return {
        "workload": spec.workload,
        "method": spec.method,
        "workers": spec.workers,
        "images": len(spec.paths),
        "interpreter": cell.label,
        "gil_requested": spec.gil_requested,
        "status": "unavailable",
        "error": cell.unavailable,
    }


def run_sweep(
    config: SweepConfig,
    engine: Engine,
    *,
    on_cell: OnCell | None = None,
    interpreters: Interpreters | None = None,
    image_dir: Path = DEFAULT_IMAGE_DIR,
    cell_timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    stop_event: threading.Event | None = None,
) -> int:
    """Run (or resume) the sweep `config.name`; return its id. Ctrl-C keeps finished cells.

    Setting `stop_event` kills the running cell's process and raises SweepCancelled; the
    sweep is stored `interrupted` and resumes like any other.
    """
    config.validate()
    interpreters = interpreters or Interpreters.discover(config.baseline)
    size_dir = image_dir / f"{config.image_size[0]}x{config.image_size[1]}"
    paths = [
        str(path)
        for path in generate_images(
            size_dir, max(config.images), config.image_size, config.seed, stop_event
        )
    ]
    cells = plan(config, paths, interpreters)
    with Session(engine) as session:
        sweep = repository.start_or_resume_sweep(
            session,
            config.name,
            config.parameters(),
            host=host_info(),
            interpreters=interpreters.as_list(),
            library_versions=library_versions(),
            git_commit=git_commit(),
            cell_count=len(cells),
        )
        sweep_id = sweep.id
        assert sweep_id is not None
        done = repository.finished_cells(session, sweep_id)
        finished = sum(cell.key in done for cell in cells)
        if on_cell is not None:
            on_cell(finished, len(cells), None)
        try:
            for cell in cells:
                if cell.key in done:
                    continue
                if stop_event is not None and stop_event.is_set():
                    raise SweepCancelled("the sweep was cancelled")
                if cell.interpreter is None:
                    row = unavailable_row(cell)
                else:
                    row = measure_cell(cell.spec, cell.interpreter, cell_timeout_s, stop_event)
                repository.save_result(session, sweep_id, row)
                finished += 1
                if on_cell is not None:
                    on_cell(finished, len(cells), row)
        except BaseException:
            session.rollback()
            repository.finish_sweep(session, sweep, "interrupted")
            raise
        repository.finish_sweep(session, sweep, "completed")
    return sweep_id

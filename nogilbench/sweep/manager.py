"""A sweep: the matrix of cells, measured in interleaved rounds, stored as it goes.

Cells that are compared with each other (one workload and image count: every method, worker
count and interpreter) form a group. A round runs every cell of a group once, each in a
fresh process, in a seeded shuffled order that is stored before the round starts; slow
minutes on a noisy host then fall on every method alike, and speedups are paired by round.
After the minimum number of rounds, groups whose cells' intervals are still wider than the
target get more rounds (widest first, up to a cap, within a time budget), and a group with
a physically impossible speedup is measured once more.

Every measurement is committed as it is taken and keyed by (cell, round), so a sweep killed
at any moment resumes where it stopped and never measures a round twice. One process at a
time measures a sweep (a lease in the store), and a resume on another host, interpreter or
commit is refused.
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from nogilbench import __version__
from nogilbench.concurrency.runners import GIL_ON_METHODS, MATRIX_METHODS, MAX_WORKERS, METHODS
from nogilbench.concurrency.workloads import WORKLOADS
from nogilbench.errors import InvalidParameter, SweepCancelled
from nogilbench.host.interpreters import (
    InterpreterInfo,
    InterpreterUnavailable,
    current,
    find_default_build,
    find_free_threaded,
    host_info,
    usable_cores,
)
from nogilbench.imaging.samples import DEFAULT_SIZE, MAX_SIDE, MIN_SIDE, generate_images
from nogilbench.paths import PROJECT_ROOT
from nogilbench.store import repository
from nogilbench.store.models import Sweep
from nogilbench.sweep.launch import DEFAULT_CELL_TIMEOUT_S, interpreter_label, measure_once
from nogilbench.sweep.scaling import plan_pinning
from nogilbench.sweep.worker import CellSpec

DEFAULT_IMAGE_DIR = PROJECT_ROOT / "data" / "images"
MAX_IMAGES = 10_000
MAX_REPEATS = 100
DEFAULT_MAX_ROUNDS = 6
PAST_CORES = ("same-binary", "all")
SCALINGS = ("strong", "weak")
# Parameters added after sweeps were first stored, with the value an older sweep implicitly
# had: a stored sweep without them still matches a config that leaves them at these values.
ADDED_PARAMETERS: dict[str, Any] = {
    "pin": False, "past_cores": "same-binary", "scaling": "strong", "images_per_worker": 10,
}  # fmt: skip
LEASE_TTL_S = 1800.0  # longer than any cell (cell timeout 900 s): renewed after each one

# on_cell(done, total, row): once with row=None before the first measurement, then once per
# measurement (one round of one cell); total grows when extra rounds are scheduled.
OnCell = Callable[[int, int, dict[str, Any] | None], None]


@dataclass
class SweepConfig:
    """What to measure. The defaults are the full matrix for both workloads."""

    name: str = "default"
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    images: list[int] = field(default_factory=lambda: [10, 50, 100])
    workers: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    repeats: int = 3  # the minimum number of rounds of every cell
    image_size: tuple[int, int] = DEFAULT_SIZE
    baseline: bool = True  # also measure on a default (GIL) build of the same version
    start_method: str | None = None
    seed: int = 0  # sample images and the rounds' shuffled orders
    max_rounds: int | None = None  # cap on rounds per group while intervals stay wide
    # (None: max(repeats, 6))
    target: float = 0.05  # more rounds while a cell's interval is wider than +-5% of its median
    budget_s: float | None = 720.0  # extra rounds start only while the sweep is within this
    pin: bool = False  # each cell on distinct physical cores of one NUMA node (scaling.py)
    # Which rows are also measured with more workers than usable cores (oversubscribed):
    # "same-binary" = only the free-threaded build's sync/threading/multiprocessing/free-threaded
    # rows (the 48-cell matrix); "all" = every row. The time budget of the default sweep.
    past_cores: str = "same-binary"
    # strong: the image counts are fixed (`images`), speedup vs sync at the same count;
    # weak: every worker count w gets w x `images_per_worker` images (`images` is ignored),
    # so the ideal wall time is flat.
    scaling: str = "strong"
    images_per_worker: int = 10

    def __post_init__(self) -> None:
        if self.max_rounds is None:
            self.max_rounds = max(self.repeats, DEFAULT_MAX_ROUNDS)

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
                f"repeats must be between 1 and {MAX_REPEATS} (minimum rounds), got {self.repeats}"
            )
        if self.max_rounds is None or not self.repeats <= self.max_rounds <= MAX_REPEATS:
            raise InvalidParameter(
                f"max rounds must be between repeats ({self.repeats}) and {MAX_REPEATS}, "
                f"got {self.max_rounds}"
            )
        if not 0 < self.target < 1:
            raise InvalidParameter(f"target must be a fraction between 0 and 1, got {self.target}")
        if self.budget_s is not None and self.budget_s < 0:
            raise InvalidParameter(f"budget must be >= 0 seconds, got {self.budget_s}")
        width, height = self.image_size
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise InvalidParameter(
                f"image size sides must be between {MIN_SIDE} and {MAX_SIDE}, got {width}x{height}"
            )
        if self.scaling not in SCALINGS:
            raise InvalidParameter(
                f"scaling must be one of {', '.join(SCALINGS)}, got {self.scaling!r}"
            )
        if self.scaling == "weak":
            _check_range("images per worker", [self.images_per_worker], 1, MAX_IMAGES)
            most = max(self.workers, default=1) * self.images_per_worker
            if most > MAX_IMAGES:
                raise InvalidParameter(
                    f"weak scaling needs {most} images at {max(self.workers)} workers; "
                    f"at most {MAX_IMAGES}: lower --images-per-worker"
                )
        if self.past_cores not in PAST_CORES:
            raise InvalidParameter(
                f"past-cores must be one of {', '.join(PAST_CORES)}, got {self.past_cores!r}"
            )
        if self.start_method not in (None, "fork", "forkserver", "spawn"):
            raise InvalidParameter(f"unknown start method {self.start_method!r}")
        return self

    def image_counts(self) -> list[int]:
        """The groups' image counts: `images`, or w x images_per_worker in weak scaling."""
        if self.scaling == "weak":
            return [workers * self.images_per_worker for workers in sorted(set(self.workers))]
        return sorted(set(self.images))

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
            described.append({"role": "free-threaded", "unavailable": self.free_threaded_reason})
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
    ordered_methods = sorted(config.methods, key=METHODS.index)
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
        pillow_version=None, psutil_version=None, role="free-threaded",
    )  # fmt: skip
    baseline = replace(main, path="default", free_threaded_build=False, role="default")
    interpreters = Interpreters(main, main, "", baseline if config.baseline else None)
    return plan(config, [""] * max(config.image_counts()), interpreters, cores)


def group_cells(cells: list[PlannedCell]) -> list[Group]:
    grouped: dict[tuple[str, int], list[PlannedCell]] = {}
    for cell in cells:
        grouped.setdefault((cell.spec.workload, len(cell.spec.paths)), []).append(cell)
    return [Group(workload, images, members) for (workload, images), members in grouped.items()]


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
        "workload": spec.workload, "method": spec.method, "workers": spec.workers,
        "images": len(spec.paths), "interpreter": cell.label, "status": "unavailable",
        "error": cell.unavailable, "details": {"gil_requested": spec.gil_requested},
    }  # fmt: skip


@dataclass
class Progress:
    """Rounds measured so far, for the on_cell callback (its total grows with extra rounds)."""

    done: int = 0
    total: int = 0
    callback: OnCell | None = None

    def step(self, row: dict[str, Any] | None) -> None:
        if row is not None:
            self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total, row)


class RoundRunner:
    """Runs rounds of groups for one sweep, skipping what is already stored."""

    def __init__(
        self, session: Session, sweep: Sweep, owner: str, progress: Progress,
        timeout_s: float, stop_event: threading.Event | None,
    ) -> None:  # fmt: skip
        assert sweep.id is not None
        self.session, self.sweep, self.sweep_id, self.owner = session, sweep, sweep.id, owner
        self.progress, self.timeout_s, self.stop_event = progress, timeout_s, stop_event
        self.measured = repository.measured_rounds(session, self.sweep_id)
        # kept beside `measured` so neither question scans every measurement of the sweep
        self.failed_keys = {key for (key, _), status in self.measured.items() if status != "ok"}
        self.rounds: dict[repository.GroupKey, int] = {}
        for key, number in self.measured:
            group_key = (key[0], key[3])
            self.rounds[group_key] = max(self.rounds.get(group_key, 0), number + 1)
        self.pin = False
        self.durations: dict[tuple[str, int], list[float]] = {}

    def rounds_done(self, group: Group) -> int:
        return self.rounds.get((group.workload, group.images), 0)

    def failed(self, cell: PlannedCell) -> bool:
        """A cell that errored or is unavailable is not measured again in this sweep."""
        return cell.key in self.failed_keys

    def pending(self, group: Group, number: int) -> int:
        return sum(
            (cell.key, number) not in self.measured and not self.failed(cell)
            for cell in group.cells
        )

    def run(self, group: Group, number: int, seed: int) -> None:
        order = repository.round_order(
            self.session, self.sweep_id, group.workload, group.images, number,
            group.shuffled(seed, number),
        )  # fmt: skip
        started = time.perf_counter()
        for position, order_key in enumerate(order):
            cell = group.cell(order_key)
            if cell is None or (cell.key, number) in self.measured or self.failed(cell):
                continue
            if self.stop_event is not None and self.stop_event.is_set():
                raise SweepCancelled(f"sweep {self.sweep.name!r} was cancelled")
            if cell.interpreter is None:
                row = unavailable_row(cell)
            else:
                cpus = None
                if self.pin:  # sync uses one core whatever its workers setting
                    workers = 1 if cell.spec.method == "sync" else cell.spec.workers
                    cpus = plan_pinning(workers).cpus
                row = measure_once(
                    cell.spec, cell.interpreter, self.timeout_s, self.stop_event, cpus
                )
                row["details"]["gil_requested"] = cell.spec.gil_requested
            row.update(round=number, position=position)
            repository.save_measurement(self.session, self.sweep_id, row)
            self.measured[(cell.key, number)] = row["status"]
            if row["status"] != "ok":
                self.failed_keys.add(cell.key)
            name = (group.workload, group.images)
            self.rounds[name] = max(self.rounds.get(name, 0), number + 1)
            repository.acquire_lease(self.session, self.sweep, self.owner, LEASE_TTL_S)
            self.progress.step(row)
        self.durations.setdefault((group.workload, group.images), []).append(
            time.perf_counter() - started
        )

    def round_cost(self, group: Group) -> float:
        """Seconds one more round of `group` is expected to take (0 if none ran here yet)."""
        spent = self.durations.get((group.workload, group.images))
        return statistics.median(spent) if spent else 0.0


def widest(results: list[Any], group: Group) -> float:
    """The widest relative interval among the group's measured cells (0 if none)."""
    widths = [
        max(r.wall_high_s / r.wall_median_s - 1, 1 - r.wall_low_s / r.wall_median_s)
        for r in results
        if r.workload == group.workload and r.images == group.images and r.status == "ok"
        and r.wall_median_s and r.wall_low_s is not None and r.wall_high_s is not None
    ]  # fmt: skip
    return max(widths, default=0.0)


def has_anomaly(results: list[Any], group: Group) -> bool:
    return any(
        r.anomaly for r in results if r.workload == group.workload and r.images == group.images
    )


def extra_rounds(
    runner: RoundRunner, config: SweepConfig, groups: list[Group], started: float
) -> None:
    """More rounds for imprecise groups (widest first) and one more for an anomaly."""
    remeasured: set[tuple[str, int]] = set()
    skipped: set[tuple[str, int]] = set()
    results = repository.refresh_results(runner.session, runner.sweep_id)
    while True:
        wanted = []
        for group in groups:
            name = (group.workload, group.images)
            rounds = runner.rounds_done(group)
            anomaly = has_anomaly(results, group) and name not in remeasured
            width = widest(results, group)
            cap = config.max_rounds + (1 if anomaly else 0)
            if name in skipped or rounds >= cap or not (anomaly or width > config.target):
                continue
            wanted.append((not anomaly, -width, group))
        if not wanted:
            return
        _, _, group = min(wanted, key=lambda item: item[:2])
        name = (group.workload, group.images)
        elapsed = time.perf_counter() - started
        if config.budget_s is not None and elapsed + runner.round_cost(group) > config.budget_s:
            skipped.add(name)  # a cheaper group may still fit
            continue
        if has_anomaly(results, group):
            remeasured.add(name)
        runner.progress.total += runner.pending(group, runner.rounds_done(group))
        runner.run(group, runner.rounds_done(group), config.seed)
        # only this group's measurements changed: recompute its rows from them
        results = repository.refresh_results(runner.session, runner.sweep_id, [name])


def run_sweep(
    config: SweepConfig,
    engine: Engine,
    *,
    on_cell: OnCell | None = None,
    interpreters: Interpreters | None = None,
    image_dir: Path = DEFAULT_IMAGE_DIR,
    cell_timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    stop_event: threading.Event | None = None,
    retry_errors: bool = False,
) -> int:
    """Run (or resume) the sweep `config.name`; return its id. Ctrl-C keeps every finished
    measurement; `stop_event` (set from another thread) kills the running cell and raises
    SweepCancelled; `retry_errors` measures failed (error, timeout) rounds again."""
    config.validate()
    started = time.perf_counter()
    interpreters = interpreters or Interpreters.discover(config.baseline)
    size_dir = image_dir / f"{config.image_size[0]}x{config.image_size[1]}"
    paths = [
        str(path)
        for path in generate_images(
            size_dir, max(config.image_counts()), config.image_size, config.seed, stop_event
        )
    ]
    cells = plan(config, paths, interpreters)
    groups = group_cells(cells)
    owner = f"pid {os.getpid()} on {socket.gethostname()}"
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
            parameter_defaults=ADDED_PARAMETERS,
        )
        if sweep.status == "completed" and not retry_errors:
            repository.refresh_results(session, sweep.id)  # type: ignore[arg-type]
            measured = len(repository.measurements_of(session, sweep.id))  # type: ignore[arg-type]
            if on_cell is not None:
                on_cell(measured, measured, None)
            return sweep.id  # type: ignore[return-value]
        repository.acquire_lease(session, sweep, owner, LEASE_TTL_S)
        try:
            if retry_errors:
                repository.forget_errors(session, sweep.id)  # type: ignore[arg-type]
            progress = Progress(callback=on_cell)
            runner = RoundRunner(session, sweep, owner, progress, cell_timeout_s, stop_event)
            runner.pin = config.pin
            progress.total = sum(
                len(group.cells) * max(config.repeats, runner.rounds_done(group))
                for group in groups
            )
            progress.done = progress.total - sum(
                runner.pending(group, number)
                for group in groups
                for number in range(max(config.repeats, runner.rounds_done(group)))
            )
            progress.step(None)
            for number in range(config.repeats):
                for group in groups:
                    runner.run(group, number, config.seed)
            extra_rounds(runner, config, groups, started)
        except BaseException:
            session.rollback()
            repository.refresh_results(session, sweep.id)  # type: ignore[arg-type]
            repository.finish_sweep(session, sweep, "interrupted")
            repository.release_lease(session, sweep, owner)
            raise
        repository.refresh_results(session, sweep.id)  # type: ignore[arg-type]
        repository.finish_sweep(session, sweep, "completed")
        repository.release_lease(session, sweep, owner)
        return sweep.id  # type: ignore[return-value]

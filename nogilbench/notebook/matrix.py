"""What `notebooks/matrix.ipynb` calls: its parameters turned into a sweep, run in the
notebook's own kernel through `nogilbench.sweep.manager.run_sweep` (resumable by name), with a
plain-text progress line per cell that papermill streams to the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from nogilbench.paths import PROJECT_ROOT
from nogilbench.report.data import SweepData, load_sweeps, resolve_database_url
from nogilbench.store.repository import open_store
from nogilbench.sweep import parameters
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.launch import DEFAULT_CELL_TIMEOUT_S
from nogilbench.sweep.manager import run_sweep
from nogilbench.sweep.plan import Interpreters, plan


def sweep_config(
    name: str,
    workloads: Sequence[str],
    images: Sequence[int],
    workers: str | Sequence[int],
    methods: Sequence[str],
    repeats: int,
    image_size: str | Sequence[int],
    baseline: bool = True,
    start_method: str | None = None,
    seed: int = 0,
    max_rounds: int | None = None,
    target: float = 0.05,
    budget_s: float | None = 720.0,
    past_cores: str = "same-binary",
    pin: bool = False,
    scaling: str = "strong",
    images_per_worker: int = 10,
) -> SweepConfig:
    """The notebook's parameter cell, in its order, through the one door (`sweep.parameters`)."""
    return parameters.sweep_config(name, {
        "workloads": workloads, "images": images, "workers": workers, "methods": methods,
        "repeats": repeats, "image_size": image_size, "baseline": baseline,
        "start_method": start_method, "seed": seed, "max_rounds": max_rounds, "target": target,
        "budget_s": budget_s, "past_cores": past_cores, "pin": pin, "scaling": scaling,
        "images_per_worker": images_per_worker,
    })  # fmt: skip


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def discover_interpreters(
    baseline: bool = True,
    free_threaded_python: str | None = None,
    default_python: str | None = None,
) -> Interpreters:
    """The interpreters of the sweep; explicit paths override discovery (.venv-ft, .venv-gil)."""
    overrides = {
        "NOGILBENCH_FT_PYTHON": free_threaded_python,
        "NOGILBENCH_GIL_PYTHON": default_python,
    }
    with _environment(overrides):
        return Interpreters.discover(baseline)


def planned_cells(config: SweepConfig, interpreters: Interpreters) -> int:
    return len(plan(config, [""] * max(config.image_counts()), interpreters))


def describe(config: SweepConfig, interpreters: Interpreters) -> list[str]:
    """The parameter grid and the cell count, one line each (deterministic for a setup)."""
    main = interpreters.main
    lines = [
        f"sweep: {config.name}",
        f"workloads: {', '.join(config.workloads)}",
        (
            f"images: {', '.join(map(str, config.images))}"
            if config.scaling == "strong"
            else f"weak scaling: {config.images_per_worker} images per worker "
            f"({', '.join(map(str, config.image_counts()))})"
        ),
        f"workers: {', '.join(map(str, config.workers))}",
        f"methods: {', '.join(config.methods)}",
        f"rounds: at least {config.repeats}, up to {config.max_rounds} while a cell's interval "
        f"is wider than ±{config.target:.0%}"
        + ("" if config.budget_s is None else f" (extra rounds within {config.budget_s:.0f} s)"),
        f"image size: {config.image_size[0]}x{config.image_size[1]}",
        f"matrix interpreter build: {'free-threaded' if main.free_threaded_build else 'default'}",
        f"free-threaded available: {'yes' if interpreters.free_threaded else 'no'}",
        f"default-build baseline: {'yes' if interpreters.baseline else 'no'}",
        f"cells planned: {planned_cells(config, interpreters)}",
    ]
    return lines


class ProgressPrinter:
    """`on_cell` callback of run_sweep: one flushed line per cell (papermill streams them)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, done: int, total: int, row: dict[str, Any] | None) -> None:
        width = len(str(total))
        if row is None:
            start = f"resuming: {done} of {total} rounds already stored" if done else "starting"
            print(f"{start}; {total - done} to run", file=self.stream, flush=True)
            return
        outcome = row["status"]
        if row.get("wall_s"):
            outcome += f", {row['wall_s']:.3f} s"
        elif row.get("error"):
            outcome += f": {row['error']}"
        print(
            f"[{done:>{width}}/{total}] round {row['round'] + 1}: {row['workload']} "
            f"{row['method']} workers={row['workers']} images={row['images']} "
            f"({row['interpreter']}): {outcome}",
            file=self.stream,
            flush=True,
        )


def run_matrix(
    config: SweepConfig,
    database_url: str | None,
    interpreters: Interpreters | None = None,
    cell_timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    image_dir: Path | None = None,
    stream: TextIO | None = None,
) -> SweepData:
    """Run or resume the sweep `config.name` in this process; return it as stored."""
    engine = open_store(resolve_database_url(database_url))
    try:
        options: dict[str, Any] = {"cell_timeout_s": cell_timeout_s}
        if image_dir is not None:
            options["image_dir"] = (
                image_dir if image_dir.is_absolute() else PROJECT_ROOT / image_dir
            )
        run_sweep(
            config, engine, on_cell=ProgressPrinter(stream), interpreters=interpreters, **options
        )
    finally:
        engine.dispose()
    return load_sweeps(database_url, [config.name])[0]

"""`nogilbench sweep`: run (or resume) a sweep with a progress bar, then print its tables."""

from __future__ import annotations

import argparse
from typing import Any

from nogilbench.cli.output import console
from nogilbench.cli.summary import print_summary
from nogilbench.errors import InvalidParameter


def run(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from nogilbench.host.interpreters import usable_cores
    from nogilbench.imaging.samples import parse_size
    from nogilbench.store.repository import open_store
    from nogilbench.sweep.config import SweepConfig
    from nogilbench.sweep.manager import run_sweep
    from nogilbench.sweep.plan import Interpreters
    from nogilbench.sweep.scaling import resolve_worker_counts

    config = SweepConfig(
        name=args.name,
        workloads=args.workloads,
        images=args.images,
        workers=resolve_worker_counts(args.workers, usable_cores()),
        methods=args.methods,
        repeats=args.repeats,
        image_size=parse_size(args.image_size),
        baseline=not args.no_baseline,
        start_method=args.start_method,
        max_rounds=args.max_rounds,
        target=args.target,
        budget_s=args.budget,
        pin=args.pin,
        past_cores=args.past_cores,
        scaling=args.scaling,
        images_per_worker=args.images_per_worker,
    ).validate()
    if args.cell_timeout <= 0:
        raise InvalidParameter("--cell-timeout must be positive")
    engine = open_store(args.database_url)  # fails before any work if the store is unreachable
    err = console(stderr=True)
    interpreters = Interpreters.discover(config.baseline)
    _describe_interpreters(err, interpreters)
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(f"sweep {config.name}", total=None)

        def on_cell(done: int, total: int, row: dict[str, Any] | None) -> None:
            if row is None:  # resumed cells count as done from the start
                progress.update(task, total=total, completed=done)
                return
            label = (
                f"round {row['round'] + 1}: {row['workload']} {row['method']} "
                f"w={row['workers']} n={row['images']}"
            )
            progress.update(
                task, total=total, completed=done, description=f"{label} [{row['status']}]"
            )

        sweep_id = run_sweep(
            config, engine, on_cell=on_cell, interpreters=interpreters,
            cell_timeout_s=args.cell_timeout, retry_errors=args.retry_errors,
        )  # fmt: skip
    print_summary(engine, sweep_id, None)
    return 0


def _describe_interpreters(out: Any, interpreters: Any) -> None:
    main = interpreters.main
    build = "free-threaded build" if main.free_threaded_build else "default (GIL) build"
    out.print(f"matrix interpreter: {main.path} ({main.version}, {build})")
    if interpreters.free_threaded is None:
        out.print(
            "[yellow]free-threaded: unavailable; those cells are stored as 'unavailable'. "
            f"Reason: {interpreters.free_threaded_reason}[/]"
        )
    if interpreters.baseline is not None:
        out.print(f"default build: {interpreters.baseline.path} ({interpreters.baseline.version})")

"""A stored sweep's summary tables on the console (after `sweep`, and `report --print`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nogilbench.cli.output import console, fmt


def stored_usable_cores(sweep: Any, results: Sequence[Any]) -> int:
    """The cores the sweep's cells could use, as recorded where it ran (the store's rule)."""
    from nogilbench.store.repository import usable_cores_of

    return usable_cores_of(sweep, results)


def print_summary(engine: Any, sweep_id: int, workers: int | None) -> None:
    from rich.table import Table
    from sqlmodel import Session

    from nogilbench.results.tables import final_table, speedup_grid
    from nogilbench.store import repository

    with Session(engine) as session:
        sweep = repository.get_sweep(session, sweep_id)
        results = list(repository.results_for(session, [sweep_id]))
    assert sweep is not None
    out = console()
    cores = stored_usable_cores(sweep, results)
    from nogilbench.results.questions import headline_workers as headline_of

    workers_list = sorted({r.workers for r in results})
    headline_workers = workers or headline_of(workers_list, cores)
    out.print(
        f"\nsweep [bold]{sweep.name}[/] (id {sweep.id}, {sweep.status}), "
        f"{len(results)}/{sweep.cell_count} cells, host {sweep.host.get('cpu_model', '?')}, "
        f"{cores} usable cores"
    )
    for workload in dict.fromkeys(r.workload for r in results):
        lines = final_table(results, workload, headline_workers)
        counts = sorted({r.images for r in results if r.workload == workload})
        table = Table(title=f"{workload}: median wall time at {headline_workers} workers")
        for column in ["method", "interpreter", *(f"{n} images (s)" for n in counts)]:
            table.add_column(column)
        for column in ("memory (MiB)", "CPU %", "speedup"):
            table.add_column(column, justify="right")
        for line in lines:
            cells = [fmt(line.get(f"time_{n}_s"), "{:.3f}") for n in counts]
            table.add_row(
                line["method"], line["interpreter"], *cells, fmt(line.get("memory_mib"), "{:.0f}"),
                fmt(line.get("cpu_percent"), "{:.0f}"), fmt(line.get("speedup"), "{:.2f}x"),
            )  # fmt: skip
        out.print(table)
        grid = speedup_grid(results, workload, max(counts))
        grid_table = Table(title=f"{workload}: speedup vs sync at {max(counts)} images")
        grid_table.add_column("method")
        for count in workers_list:
            flag = " (oversubscribed)" if count > cores else ""
            grid_table.add_column(f"{count} workers{flag}", justify="right")
        for line in grid:
            values = []
            for count in workers_list:
                wall, speedup, _flag = line.get(count, (None, None, None))
                values.append("-" if wall is None else f"{speedup or 0:.2f}x ({wall:.2f} s)")
            grid_table.add_row(line["method"], *values)
        out.print(grid_table)
    problems: dict[tuple[str, str, str | None], int] = {}
    for row in results:
        if row.status != "ok":
            key = (row.status, row.method, row.error)
            problems[key] = problems.get(key, 0) + 1
    for (status, method, error), count in problems.items():
        out.print(f"[yellow]{status}[/]: {count} {method} cell(s): {error}")

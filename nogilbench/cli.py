"""The `nogilbench` command: info, sweep, race, export, report, compare, import.

Every error a user can cause ends in one line on stderr and exit code 2; Ctrl-C during a
sweep keeps every finished cell and says how to resume (exit 130).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from nogilbench.errors import InvalidParameter, NogilbenchError
from nogilbench.paths import PROJECT_ROOT

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit 2), not usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _csv_of(kind: Callable[[str], Any], name: str) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a comma-separated list") from None

    parse.__name__ = name
    return parse


def build_parser() -> argparse.ArgumentParser:
    from nogilbench.concurrency.runners import METHODS
    from nogilbench.concurrency.workloads import WORKLOADS

    parser = OneLineParser(
        prog="nogilbench",
        description="Measure Python concurrency models on CPU-bound image work.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    info = commands.add_parser("info", help="interpreters found and the host")
    info.add_argument("--json", action="store_true", help="machine-readable output")

    sweep = commands.add_parser(
        "sweep",
        help="run (or resume) a sweep of the matrix and store every cell",
        description="Cells are measured in interleaved rounds: each round runs every cell "
        "of a group (workload x image count) once, each in a fresh process of the interpreter "
        "under test, in a seeded shuffled order. Re-running a sweep with the same --name "
        "resumes it: measured rounds are skipped, none is measured twice.",
    )
    sweep.add_argument("--name", default="default", help="sweep name; same name = resume")
    sweep.add_argument(
        "--workloads", type=_csv_of(str, "workloads"), default=list(WORKLOADS),
        help=f"comma list of {', '.join(WORKLOADS)} (default: both)",
    )  # fmt: skip
    sweep.add_argument(
        "--images", type=_csv_of(int, "images"), default=[10, 50, 100],
        help="image counts (default 10,50,100)",
    )  # fmt: skip
    sweep.add_argument(
        "--workers", default="1,2,4,8",
        help="worker counts (default 1,2,4,8), or 'auto': 1, 2, 4, ... up to the usable cores "
        "(affinity mask and cgroup CPU quota), then 2x cores once (oversubscribed)",
    )  # fmt: skip
    sweep.add_argument(
        "--methods", type=_csv_of(str, "methods"), default=list(METHODS),
        help=f"comma list of {', '.join(METHODS)} (default: all)",
    )  # fmt: skip
    sweep.add_argument(
        "--past-cores", choices=["same-binary", "all"], default="same-binary",
        help="which rows also run with more workers than usable cores (oversubscribed): "
        "'same-binary' (default) only the free-threaded build's sync, threading, "
        "multiprocessing and free-threaded rows (the 48-cell matrix), so asyncio, "
        "subinterpreters and the default build's rows stop at the core count; 'all' every row",
    )  # fmt: skip
    sweep.add_argument(
        "--repeats", type=int, default=3,
        help="minimum rounds: each round runs every cell of a group once, in a fresh process, "
        "in a shuffled order (default 3)",
    )  # fmt: skip
    sweep.add_argument(
        "--max-rounds", type=int, default=None,
        help="cap on rounds for groups whose intervals stay wider than --target "
        "(default: the larger of 6 and --repeats)",
    )  # fmt: skip
    sweep.add_argument(
        "--target", type=float, default=0.05,
        help="wanted half-width of a cell's interval, as a fraction of its median (default 0.05)",
    )  # fmt: skip
    sweep.add_argument(
        "--budget", type=float, default=720.0, metavar="SECONDS",
        help="extra rounds start only while the sweep has run less than this (default 720; "
        "0: none; the minimum rounds always run)",
    )  # fmt: skip
    sweep.add_argument(
        "--pin", action="store_true",
        help="pin each cell to distinct physical cores of one NUMA node (recorded per round)",
    )  # fmt: skip
    sweep.add_argument(
        "--retry-errors", action="store_true",
        help="measure again the rounds that failed (errors, time-outs) when resuming",
    )  # fmt: skip
    sweep.add_argument(
        "--scaling", choices=["strong", "weak"], default="strong",
        help="strong (default): fixed image counts (--images); weak: w workers get "
        "w x --images-per-worker images, so the ideal wall time is flat",
    )  # fmt: skip
    sweep.add_argument(
        "--images-per-worker", type=int, default=10,
        help="images per worker in weak scaling (default 10)",
    )  # fmt: skip
    sweep.add_argument("--image-size", default="960x640", help="WIDTHxHEIGHT (default 960x640)")
    sweep.add_argument(
        "--no-baseline", action="store_true",
        help="skip the default (GIL) build of the same version (sync, threading, "
        "multiprocessing there: what people run today)",
    )  # fmt: skip
    sweep.add_argument(
        "--start-method", choices=["fork", "forkserver", "spawn"], default=None,
        help="multiprocessing start method (default: forkserver where available)",
    )  # fmt: skip
    sweep.add_argument("--cell-timeout", type=float, default=900.0, help="seconds per cell")
    _database_option(sweep)

    race = commands.add_parser(
        "race", help="shared counter without/with a lock, GIL off vs on: lost updates counted"
    )
    race.add_argument("--threads", type=int, default=4)
    race.add_argument("--increments", type=int, default=200_000, help="per thread")
    race.add_argument("--trials", type=int, default=5)
    race.add_argument("--json", action="store_true", help="print every trial as JSON")

    export = commands.add_parser("export", help="write a sweep's results as CSV or JSON")
    export.add_argument("--sweep", help="sweep name (default: the newest)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", type=Path, help="file to write (default reports/results.<fmt>)")
    export.add_argument(
        "--bundle", type=Path, metavar="FILE",
        help="write a result bundle instead: one JSON file with the sweep, host, interpreters "
        "and every stored row, for `nogilbench import` on another machine or store",
    )  # fmt: skip
    _database_option(export)

    import_ = commands.add_parser(
        "import", help="load a result bundle (from `export --bundle`) into this store",
        description="Idempotent: importing the same bundle twice adds nothing; a later bundle "
        "of the same sweep adds only the cells the store lacks. A different sweep whose name "
        "is taken is refused: give it another --name.",
    )  # fmt: skip
    import_.add_argument("file", type=Path, metavar="FILE", help="the bundle (.json)")
    import_.add_argument("--name", help="store the sweep under this name instead")
    _database_option(import_)

    report = commands.add_parser(
        "report",
        help="run (or resume) a sweep through the notebooks and render reports/report.html",
        description="Runs notebooks/matrix.ipynb with papermill (the sweep: resumed if its "
        "name exists, finished cells skipped), then notebooks/report.ipynb, and renders "
        "reports/report.html without code, plus reports/figures/*.png and "
        "reports/results.csv. --print only prints a stored sweep's tables.",
    )
    report.add_argument(
        "--sweep", action="append", metavar="NAME",
        help="sweep to run/resume and report (default: the parameter file's sweep_name, "
        "'default'); repeat it to report several stored sweeps (nothing is run then)",
    )  # fmt: skip
    report.add_argument(
        "--params", type=Path, metavar="YAML",
        help="matrix.ipynb parameter file (default: a stored sweep's own parameters, else "
        "notebooks/params/full.yaml; notebooks/params/tiny.yaml runs in a minute)",
    )  # fmt: skip
    report.add_argument(
        "--no-sweep", action="store_true", help="run nothing: report the stored sweep(s) only"
    )
    report.add_argument(
        "--output", type=Path, metavar="HTML", help="report file (default reports/report.html)"
    )
    report.add_argument("--workers", type=int, help="worker count of the headline table")
    report.add_argument(
        "--print", action="store_true", dest="print_tables",
        help="print the sweep's summary tables instead (default: the newest sweep)",
    )  # fmt: skip
    _database_option(report)

    compare = commands.add_parser(
        "compare",
        help="two stored sweeps cell by cell: ratio with its interval, significance",
        description="Matches cells on workload, method, workers, images and build, and prints "
        "time(B)/time(A) with a 95%% Welch t interval on log times; 'not significant' where "
        "the interval includes 1 or the difference is under 2%%. With --fail-on, exits 1 when "
        "B is significantly slower than A by at least that much in any cell (a CI gate).",
    )
    compare.add_argument("a", metavar="A", help="the reference sweep's name")
    compare.add_argument("b", metavar="B", help="the sweep compared with it")
    compare.add_argument(
        "--fail-on", type=_percent, metavar="PCT",
        help="exit 1 if any cell of B is significantly slower by at least PCT (e.g. 10%%)",
    )  # fmt: skip
    compare.add_argument("--json", action="store_true", help="machine-readable output")
    compare.add_argument("--all", action="store_true", help="also list cells with no difference")
    compare.add_argument(
        "--relative", action="store_true",
        help="compare each cell's time relative to sync of its own group and build, round by "
        "round (its speedup), so a host uniformly faster or slower between the runs shows no "
        "difference: whether the report's ratio sentences hold",
    )  # fmt: skip
    compare.add_argument(
        "--database-url-b", default=None, metavar="URL",
        help="B's store, if not the same as A's (--database-url)",
    )  # fmt: skip
    _database_option(compare)
    return parser


def _percent(text: str) -> float:
    """'10%' or '10' -> 0.10."""
    try:
        value = float(text.strip().rstrip("%")) / 100
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"percentage out of range: {text!r}")
    return value


def _database_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--database-url", default=None,
        help="SQLAlchemy URL (default: $DATABASE_URL, else SQLite data/nogilbench.db)",
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"info": cmd_info, "sweep": cmd_sweep, "race": cmd_race}
    handlers |= {"export": cmd_export, "report": cmd_report, "compare": cmd_compare}
    handlers |= {"import": cmd_import}
    try:
        return handlers[args.command](args)
    except NogilbenchError as exc:
        print(f"nogilbench {args.command}: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = " re-run the same command to resume" if args.command in ("sweep", "report") else ""
        print(f"nogilbench {args.command}: interrupted;{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED


# --- info -------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    from nogilbench.host.interpreters import discover, host_info

    found = discover()
    host = host_info()
    if args.json:
        interpreters = {
            role: {"unavailable": item.reason} if isinstance(item, Exception) else item.as_dict()
            for role, item in found.items()
        }
        print(json.dumps({"host": host, "interpreters": interpreters}, indent=2))
        return 0
    from rich.table import Table

    console = _console()
    table = Table(title="Interpreters")
    for column in ("role", "path", "version", "build", "GIL can be disabled", "Pillow", "psutil"):
        table.add_column(column)
    for role, item in found.items():
        if isinstance(item, Exception):
            table.add_row(role, f"[yellow]unavailable: {item.reason}[/]", "", "", "", "", "")
            continue
        build = "free-threaded" if item.free_threaded_build else "default (GIL)"
        table.add_row(
            role, item.path, item.version, build, "yes" if item.can_disable_gil else "no",
            item.pillow_version or "-", item.psutil_version or "-",
        )  # fmt: skip
    console.print(table)
    host_table = Table(title="Host", show_header=False)
    for key, value in host.items():
        host_table.add_row(key, str(value))
    console.print(host_table)
    return 0


# --- sweep ------------------------------------------------------------------------------


def cmd_sweep(args: argparse.Namespace) -> int:
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
    console = _console(stderr=True)
    interpreters = Interpreters.discover(config.baseline)
    _describe_interpreters(console, interpreters)
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
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
    _print_summary(engine, sweep_id, None)
    return 0


def _describe_interpreters(console: Any, interpreters: Any) -> None:
    main = interpreters.main
    build = "free-threaded build" if main.free_threaded_build else "default (GIL) build"
    console.print(f"matrix interpreter: {main.path} ({main.version}, {build})")
    if interpreters.free_threaded is None:
        console.print(
            "[yellow]free-threaded: unavailable; those cells are stored as 'unavailable'. "
            f"Reason: {interpreters.free_threaded_reason}[/]"
        )
    if interpreters.baseline is not None:
        console.print(
            f"default build: {interpreters.baseline.path} ({interpreters.baseline.version})"
        )


def _print_summary(engine: Any, sweep_id: int, workers: int | None) -> None:
    from rich.table import Table
    from sqlmodel import Session

    from nogilbench.host.interpreters import usable_cores
    from nogilbench.results.tables import final_table, speedup_grid
    from nogilbench.store import repository

    with Session(engine) as session:
        sweep = repository.get_sweep(session, sweep_id)
        results = list(repository.results_for(session, [sweep_id]))
    assert sweep is not None
    console = _console()
    cores = int(sweep.host.get("usable_cores") or usable_cores())
    workers_list = sorted({r.workers for r in results})
    headline_workers = workers or max(
        (w for w in workers_list if w <= cores), default=workers_list[0]
    )
    console.print(
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
        for column in ("memory (MB)", "CPU %", "speedup"):
            table.add_column(column, justify="right")
        for line in lines:
            cells = [_fmt(line.get(f"time_{n}_s"), "{:.3f}") for n in counts]
            table.add_row(
                line["method"], line["interpreter"], *cells, _fmt(line.get("memory_mb"), "{:.0f}"),
                _fmt(line.get("cpu_percent"), "{:.0f}"), _fmt(line.get("speedup"), "{:.2f}x"),
            )  # fmt: skip
        console.print(table)
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
        console.print(grid_table)
    problems: dict[tuple[str, str, str | None], int] = {}
    for row in results:
        if row.status != "ok":
            key = (row.status, row.method, row.error)
            problems[key] = problems.get(key, 0) + 1
    for (status, method, error), count in problems.items():
        console.print(f"[yellow]{status}[/]: {count} {method} cell(s): {error}")


def _console(stderr: bool = False) -> Any:
    """A rich console; wide enough for the tables when output is piped to a file or CI log."""
    from rich.console import Console

    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)


def _fmt(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


# --- race -------------------------------------------------------------------------------


def cmd_race(args: argparse.Namespace) -> int:
    from nogilbench.host.interpreters import InterpreterUnavailable, current, find_free_threaded
    from nogilbench.sweep.race import VARIANTS, race_demo

    for name in ("threads", "increments", "trials"):
        if getattr(args, name) < 1:
            raise InvalidParameter(f"--{name} must be at least 1")
    if args.threads > 256:
        raise InvalidParameter("--threads must be at most 256")
    try:
        interpreter = find_free_threaded()
    except InterpreterUnavailable as exc:
        print(
            f"free-threaded interpreter unavailable ({exc.reason}); GIL build only", file=sys.stderr
        )
        interpreter = current()
    rows = race_demo(interpreter, args.threads, args.increments, args.trials)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    table = Table(
        title=f"Lost updates: {args.threads} threads x {args.increments:,} increments, "
        f"{args.trials} trials on {interpreter.path} ({interpreter.version})"
    )
    for column in ("GIL", "variant", "expected", "lost per trial", "lost (mean %)"):
        table.add_column(column)
    for gil in dict.fromkeys(row["gil_requested"] for row in rows):
        observed = next(row["gil_enabled"] for row in rows if row["gil_requested"] == gil)
        for variant in VARIANTS:
            trials = [r for r in rows if r["gil_requested"] == gil and r["variant"] == variant]
            lost = [int(r["lost"]) for r in trials]
            share = 100 * sum(lost) / sum(int(r["expected"]) for r in trials)
            table.add_row(
                "on" if observed else "off", variant, f"{trials[0]['expected']:,}",
                ", ".join(f"{value:,}" for value in lost), f"{share:.2f}",
            )  # fmt: skip
    _console().print(table)
    return 0


# --- export / report --------------------------------------------------------------------


def _pick_sweep(session: Any, name: str | None) -> Any:
    from nogilbench.store import repository

    if name:
        sweep = repository.get_sweep_by_name(session, name)
        if sweep is None:
            raise InvalidParameter(f"no sweep named {name!r} in this database")
        return sweep
    sweeps = repository.list_sweeps(session)
    if not sweeps:
        raise InvalidParameter("this database holds no sweep yet; run `nogilbench sweep` first")
    return sweeps[-1]


def _results_of(url: str | None, name: str) -> list[Any]:
    from sqlmodel import Session

    from nogilbench.store import repository

    engine = repository.open_store(url)
    try:
        with Session(engine) as session:
            sweep = _pick_sweep(session, name)
            rows = list(repository.results_for(session, [sweep.id]))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    from nogilbench.results.compare import compare_sweeps, regressions, summary_line

    a_rows = _results_of(args.database_url, args.a)
    b_rows = _results_of(args.database_url_b or args.database_url, args.b)
    compared = compare_sweeps(a_rows, b_rows, relative=args.relative)
    if not compared:
        raise InvalidParameter(f"sweeps {args.a!r} and {args.b!r} have no measured cell in common")
    failing = regressions(compared, args.fail_on) if args.fail_on is not None else []
    if args.json:
        print(json.dumps({"a": args.a, "b": args.b, "relative": args.relative,
                          "cells": [c.as_dict() for c in compared],
                          "regressions": [c.as_dict() for c in failing]}, indent=2))  # fmt: skip
    else:
        console = _console()
        what = "(time / sync time)(B) / (same)(A)" if args.relative else "time(B) / time(A)"
        table = Table(title=f"{args.b} vs {args.a}: {what}, 95% interval")
        for column in ("workload", "method", "build", "workers", "images", "A (s)", "B (s)",
                       "B / A", "verdict"):  # fmt: skip
            table.add_column(column)
        for cell in compared:
            if cell.verdict == "not significant" and not args.all:
                continue
            workload, method, workers, images, build = cell.key
            table.add_row(
                workload, method, build, str(workers), str(images), f"{cell.a_median_s:.3f}",
                f"{cell.b_median_s:.3f}", cell.ratio.text("x", 3), cell.verdict,
            )  # fmt: skip
        console.print(table)
        console.print(summary_line(compared, args.relative))
        if failing:
            console.print(
                f"[red]{len(failing)} cell(s) of {args.b} are significantly slower than "
                f"{args.a} by {args.fail_on:.0%} or more[/]"
            )
    return 1 if failing else 0


def cmd_export(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from nogilbench.store import repository
    from nogilbench.store.repository import open_store

    engine = open_store(args.database_url)
    if args.bundle is not None:
        from nogilbench.results.bundle import export_bundle

        with Session(engine) as session:
            sweep_id = _pick_sweep(session, args.sweep).id
            summary = export_bundle(session, sweep_id, args.bundle)
        print(f"{summary.line('exported')} to {args.bundle}")
        return 0
    with Session(engine) as session:
        sweep = _pick_sweep(session, args.sweep)
        rows = [
            {"sweep": sweep.name, **row.model_dump(mode="json")}
            for row in repository.results_for(session, [sweep.id])
        ]
    output = args.output or PROJECT_ROOT / "reports" / f"results.{args.format}"
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    with partial.open("w", newline="") as handle:
        if args.format == "json":
            json.dump(rows, handle, indent=2)
        elif rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(
                {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
                for row in rows
            )
    partial.replace(output)
    print(f"wrote {len(rows)} rows of sweep {sweep.name!r} to {output}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from nogilbench.results.bundle import load_bundle, read_bundle
    from nogilbench.store.repository import open_store

    bundle = read_bundle(args.file)  # a bad file fails before the store is touched
    engine = open_store(args.database_url)
    with Session(engine) as session:
        summary = load_bundle(session, bundle, name=args.name)
    verb = "imported new" if summary.created else "imported into existing"
    print(summary.line(verb))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from nogilbench.store.db import database_url, safe_url
    from nogilbench.store.repository import get_sweep_by_name, open_store

    if args.workers is not None and args.workers < 1:
        raise InvalidParameter("--workers must be at least 1")
    names = args.sweep or []
    engine = open_store(args.database_url)
    if args.print_tables:
        with Session(engine) as session:
            sweep_id = _pick_sweep(session, names[-1] if names else None).id
        _print_summary(engine, sweep_id, args.workers)
        return 0

    from nogilbench.report.render import build_report, matrix_parameters_for, read_parameters

    url = database_url(args.database_url)
    run_sweep = not args.no_sweep and len(names) <= 1
    matrix_parameters = None
    if run_sweep:
        params_file = args.params
        if params_file is not None and not params_file.is_file():
            raise InvalidParameter(f"no parameter file {params_file}")
        name = names[0] if names else None
        if name is None:
            from nogilbench.report.render import FULL_PARAMS

            name = str(read_parameters(params_file or FULL_PARAMS).get("sweep_name", "default"))
        with Session(engine) as session:
            stored = get_sweep_by_name(session, name)
            stored_parameters = dict(stored.parameters) if stored is not None else None
        matrix_parameters = matrix_parameters_for(name, params_file, stored_parameters)
        names = [name]
        print(f"sweep {name!r} in {safe_url(url)}: running/resuming", file=sys.stderr)
    elif not names:
        with Session(engine) as session:
            names = [_pick_sweep(session, None).name]
    engine.dispose()
    paths = build_report(
        url, names, matrix_parameters=matrix_parameters, html=args.output, workers=args.workers,
        progress=sys.stderr,
    )  # fmt: skip
    print(f"report: {paths.html}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

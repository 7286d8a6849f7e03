"""The `nogilbench` command line: every command and option, and a parser whose usage errors
are one line (exit 2), never usage text followed by the error."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit 2), not usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def csv_of(kind: Callable[[str], Any], name: str) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a comma-separated list") from None

    parse.__name__ = name
    return parse


def build_parser() -> argparse.ArgumentParser:
    from nogilbench.concurrency.runners import ALL_METHODS, METHODS
    from nogilbench.concurrency.workloads import WORKLOADS

    parser = OneLineParser(
        prog="nogilbench",
        description="Measure Python concurrency models on CPU-bound image work.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    info = commands.add_parser("info", help="interpreters found and the host")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument(
        "--gil-scan", action="store_true",
        help="also import every installed extension module on the free-threaded build, each "
        "in a fresh process, and say whether the GIL came back on (about 10 s)",
    )  # fmt: skip

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
        "--workloads", type=csv_of(str, "workloads"), default=list(WORKLOADS),
        help=f"comma list (default: {','.join(WORKLOADS)}): CPU-bound {', '.join(WORKLOADS)}; "
        "waiting on I/O io; mixed (fetch, then process) mixed; shared state shared-dict, "
        "shared-lock, shared-list, share-nothing; moving data transfer-path, transfer-pickle, "
        "transfer-shm; or your own as module:function or an installed entry point "
        "(docs/workloads.md)",
    )  # fmt: skip
    sweep.add_argument(
        "--images", type=csv_of(int, "images"), default=[10, 50, 100],
        help="image counts (default 10,50,100)",
    )  # fmt: skip
    sweep.add_argument(
        "--workers", default="1,2,4,8",
        help="worker counts (default 1,2,4,8), or 'auto': 1, 2, 4, ... up to the usable cores "
        "(affinity mask and cgroup CPU quota), then 2x cores once (oversubscribed)",
    )  # fmt: skip
    sweep.add_argument(
        "--methods", type=csv_of(str, "methods"), default=list(METHODS),
        help=f"comma list of {', '.join(ALL_METHODS)} (default: {','.join(METHODS)}; "
        "asyncio-loop runs the work on the event loop's own thread)",
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
    database_option(sweep)

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
    database_option(export)

    import_ = commands.add_parser(
        "import", help="load a result bundle (from `export --bundle`) into this store",
        description="Idempotent: importing the same bundle twice adds nothing; a later bundle "
        "of the same sweep adds only the cells the store lacks. A different sweep whose name "
        "is taken is refused: give it another --name.",
    )  # fmt: skip
    import_.add_argument("file", type=Path, metavar="FILE", help="the bundle (.json)")
    import_.add_argument("--name", help="store the sweep under this name instead")
    database_option(import_)

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
    database_option(report)

    compare = commands.add_parser(
        "compare",
        help="two stored sweeps cell by cell: ratio with its interval, significance",
        description="Matches cells on workload, method, workers, images and build, and prints "
        "time(B)/time(A) with a 95%% Welch t interval on log times, decided by the report's "
        "one rule: B faster or slower when the interval is clear of 1 and the estimate beyond "
        "5%%, 'within 5%%' when the whole interval is inside +-5%%, else 'cannot tell'. With "
        "--fail-on, exits 1 when B is slower than A by at least that much in any cell (a CI "
        "gate).",
    )
    compare.add_argument("a", metavar="A", help="the reference sweep's name")
    compare.add_argument("b", metavar="B", help="the sweep compared with it")
    compare.add_argument(
        "--fail-on", type=percent, metavar="PCT",
        help="exit 1 if any cell of B is slower by at least PCT (e.g. 10%%)",
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
    database_option(compare)
    return parser


def percent(text: str) -> float:
    """'10%' or '10' -> 0.10."""
    try:
        value = float(text.strip().rstrip("%")) / 100
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"percentage out of range: {text!r}")
    return value


def database_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--database-url", default=None,
        help="SQLAlchemy URL (default: $DATABASE_URL, else SQLite data/nogilbench.db)",
    )  # fmt: skip

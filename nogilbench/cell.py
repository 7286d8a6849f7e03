"""One benchmark cell, run inside a fresh process of the interpreter under test.

    python -X gil=0 -m nogilbench.cell < spec.json > outcome.json

The process reads a `CellSpec` as JSON on stdin, checks the GIL state it actually got
(after every import: an extension can silently re-enable the GIL), warms the runner up,
times `repeats` full passes over the images, and prints one JSON `outcome` line on stdout.
Imports stay light (stdlib, Pillow, psutil) so this runs on any interpreter.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from nogilbench.errors import NogilbenchError
from nogilbench.interpreters import usable_cores
from nogilbench.runners import MethodUnavailable, Runner, gil_enabled, make_runner
from nogilbench.workloads import WORKLOADS, load_file


@dataclass(frozen=True)
class CellSpec:
    workload: str
    method: str
    workers: int
    paths: list[str]
    repeats: int = 3
    gil_requested: bool | None = None  # None: whatever the build gives (non-free-threaded builds)
    start_method: str | None = None
    warmup_passes: int = 2  # warm-up items per worker (every worker started, imports done)
    launched_at: float | None = None  # time.time() when the orchestrator started this process


@dataclass
class CellOutcome:
    status: str  # ok | error | unavailable
    error: str | None = None
    gil_enabled_main: bool | None = None
    gil_enabled_workers: list[bool] = field(default_factory=list)
    worker_pids: list[int] = field(default_factory=list)
    wall_times_s: list[float] = field(default_factory=list)
    cpu_times_s: list[float] = field(default_factory=list)
    cpu_per_core: list[float] = field(default_factory=list)
    startup_ms: float | None = None
    ru_maxrss_mb: float | None = None
    digest: str | None = None
    start_method: str | None = None
    python_version: str = field(default_factory=lambda: sys.version.split()[0])
    cores: int = 0


def tree_cpu_seconds(root: psutil.Process) -> float:
    """User + system CPU time of a process and all its live descendants."""
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:  # a child exited between listing and reading
            continue
    return total


def _busy_per_core(before: list[Any], after: list[Any]) -> list[float]:
    busy = []
    for start, end in zip(before, after, strict=True):
        total = sum(end) - sum(start)
        idle = (end.idle + getattr(end, "iowait", 0.0)) - (
            start.idle + getattr(start, "iowait", 0.0)
        )
        busy.append(round(100.0 * (total - idle) / total, 1) if total > 0 else 0.0)
    return busy


def _combined_digest(digests: list[str]) -> str:
    return hashlib.sha1("".join(digests).encode()).hexdigest()[:16]


def run_cell(spec: CellSpec) -> CellOutcome:
    outcome = CellOutcome(status="ok", cores=usable_cores())
    outcome.gil_enabled_main = gil_enabled()
    if spec.gil_requested is not None and outcome.gil_enabled_main != spec.gil_requested:
        outcome.status = "error"
        outcome.error = (
            f"GIL state mismatch: requested {'on' if spec.gil_requested else 'off'}, observed "
            f"{'on' if outcome.gil_enabled_main else 'off'} after imports (an extension module "
            "may have re-enabled it, or this build cannot disable it)"
        )
        return outcome
    compute = WORKLOADS[spec.workload]
    try:
        runner: Runner = make_runner(spec.method, spec.workers, start_method=spec.start_method)
    except MethodUnavailable as exc:
        outcome.status, outcome.error = "unavailable", exc.message
        return outcome
    outcome.start_method = runner.details.get("start_method")
    this_process = psutil.Process()
    with runner:
        warmup = spec.paths[: max(1, min(len(spec.paths), spec.workers * spec.warmup_passes))]
        expected = runner.map(compute, warmup, load=load_file)
        observed = runner.observe_workers()
        outcome.worker_pids = [pid for pid, _ in observed]
        outcome.gil_enabled_workers = [state for _, state in observed]
        # From the orchestrator's spawn (psutil's create_time has a whole-second base).
        launched = spec.launched_at or this_process.create_time()
        outcome.startup_ms = round((time.time() - launched) * 1000, 1)
        if spec.gil_requested is not None and any(
            state != spec.gil_requested for state in outcome.gil_enabled_workers
        ):
            outcome.status = "error"
            outcome.error = (
                "GIL state mismatch in worker(s): requested "
                f"{'on' if spec.gil_requested else 'off'}, observed {outcome.gil_enabled_workers}"
            )
            return outcome
        digests: set[str] = set()
        per_core_runs = []
        for _ in range(spec.repeats):
            cpu_before = tree_cpu_seconds(this_process)
            cores_before = psutil.cpu_times(percpu=True)
            started = time.perf_counter()
            results = runner.map(compute, spec.paths, load=load_file)
            wall = time.perf_counter() - started
            cores_after = psutil.cpu_times(percpu=True)
            outcome.cpu_times_s.append(round(tree_cpu_seconds(this_process) - cpu_before, 4))
            outcome.wall_times_s.append(wall)
            per_core_runs.append(_busy_per_core(cores_before, cores_after))
            digests.add(_combined_digest(results))
        if expected != results[: len(expected)]:
            digests.add("warm-up differs")
    if len(digests) != 1:
        outcome.status, outcome.error = (
            "error",
            f"outputs differ between repeats: {sorted(digests)}",
        )
    outcome.digest = next(iter(digests))
    outcome.cpu_per_core = [
        round(statistics.fmean(core), 1) for core in zip(*per_core_runs, strict=True)
    ]
    outcome.ru_maxrss_mb = round(_ru_maxrss_mb(), 1)
    return outcome


def _ru_maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _exit_when_orphaned(parent_pid: int, poll_s: float = 0.5) -> None:
    """Stop this cell if the sweep that started it dies (SIGKILL, a killed notebook kernel).

    Otherwise an orphaned cell would keep burning CPU (and skew whatever runs next).
    The thread sleeps almost all the time, so it costs the measurement nothing.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(3)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def main() -> int:
    _exit_when_orphaned(os.getppid())
    try:
        spec = CellSpec(**json.loads(sys.stdin.read()))
        outcome = run_cell(spec)
    except NogilbenchError as exc:
        outcome = CellOutcome(status="error", error=exc.message)
    except Exception as exc:  # reported as an error row, with the cause, never a silent success
        traceback.print_exc(file=sys.stderr)
        outcome = CellOutcome(status="error", error=f"{type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

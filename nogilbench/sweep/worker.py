"""One benchmark cell, run inside a fresh process of the interpreter under test.

    python -X gil=0 -m nogilbench.sweep.worker < spec.json > outcome.json

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

from nogilbench.concurrency.base import MethodUnavailable, Runner, gil_enabled
from nogilbench.concurrency.runners import make_runner
from nogilbench.concurrency.workloads import Workload, check_sendable, resolve_workload
from nogilbench.errors import InvalidParameter, NogilbenchError
from nogilbench.host.interpreters import usable_cores


@dataclass(frozen=True)
class CellSpec:
    workload: str
    method: str
    workers: int
    paths: list[str]
    repeats: int = 1  # timed passes in this process (a sweep's rounds are separate processes)
    gil_requested: bool | None = None  # None: whatever the build gives (non-free-threaded builds)
    start_method: str | None = None
    warmup_passes: int = 1  # warm-up items per worker (every worker started, imports done)
    launched_at: float | None = None  # time.time() when the orchestrator started this process


@dataclass
class CellOutcome:
    status: str  # ok | error | unavailable
    error: str | None = None
    gil_enabled_main: bool | None = None
    gil_enabled_workers: list[bool] = field(default_factory=list)
    gil_enabled_after: bool | None = None  # any worker with the GIL on, re-read after timing
    worker_pids: list[int] = field(default_factory=list)
    workers_observed: int = 0  # distinct worker threads/processes that answered
    wall_times_s: list[float] = field(default_factory=list)
    cpu_times_s: list[float] = field(default_factory=list)
    cpu_per_core: list[float] = field(default_factory=list)
    startup_ms: float | None = None
    ru_maxrss_mb: float | None = None
    final_pss_mb: float | None = None  # the process tree's PSS right after the timed passes
    digest: str | None = None
    start_method: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # what the runner reports of itself
    python_version: str = field(default_factory=lambda: sys.version.split()[0])
    cores: int = 0


def tree_processes(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def tree_cpu_seconds(root: psutil.Process) -> float:
    """User + system CPU time of a process and all its live descendants."""
    total = 0.0
    for process in tree_processes(root):
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:  # a child exited between listing and reading
            continue
    return total


def tree_pss_mb(root: psutil.Process) -> float | None:
    """Proportional set size of the tree: shared and copy-on-write pages split among sharers,
    so a pool of forked workers is not counted once per worker (None where the OS has no PSS)."""
    total = 0
    for process in tree_processes(root):
        try:
            total += process.memory_full_info().pss
        except (psutil.Error, AttributeError):
            return None
    return total / 2**20


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


def _on_off(state: bool | None) -> str:
    return "on" if state else "off"


def check_gil(spec: CellSpec, states: list[bool], where: str) -> str | None:
    """An error text when any observed GIL state differs from the one requested."""
    if spec.gil_requested is None or all(state == spec.gil_requested for state in states):
        return None
    return (
        f"GIL state mismatch {where}: requested {_on_off(spec.gil_requested)}, observed "
        f"{[_on_off(state) for state in states]} (an extension module may have re-enabled it, "
        "or this build cannot disable it)"
    )


def warm_up(
    runner: Runner, spec: CellSpec, outcome: CellOutcome,
    workload: Workload | None = None, items: list[Any] | None = None,
) -> list[str]:  # fmt: skip
    """Start every worker and do every import outside the timing; observe the workers."""
    workload = workload or resolve_workload(spec.workload)
    items = spec.paths if items is None else items
    warmup = items[: max(1, min(len(items), spec.workers * spec.warmup_passes))]
    expected = [
        workload.digest(output)
        for output in runner.map(workload.compute, warmup, load=workload.load)
    ]
    observed = runner.observe_workers()
    outcome.worker_pids = sorted({pid for pid, _, _ in observed})
    outcome.workers_observed = len(observed)
    outcome.gil_enabled_workers = [state for _, _, state in observed]
    return expected


def measure(
    runner: Runner, spec: CellSpec, outcome: CellOutcome,
    workload: Workload | None = None, items: list[Any] | None = None,
) -> tuple[set[str], list[str]]:  # fmt: skip
    """The timed passes: wall and CPU time of the process tree, busy % per core.

    Returns the set of per-pass output digests and the last pass's per-image digests.
    """
    workload = workload or resolve_workload(spec.workload)
    items = spec.paths if items is None else items
    this_process = psutil.Process()
    digests: set[str] = set()
    results: list[str] = []
    per_core_runs = []
    for _ in range(spec.repeats):
        cpu_before = tree_cpu_seconds(this_process)
        cores_before = psutil.cpu_times(percpu=True)
        started = time.perf_counter()
        outputs = runner.map(workload.compute, items, load=workload.load)
        wall = time.perf_counter() - started
        cores_after = psutil.cpu_times(percpu=True)
        results = [workload.digest(output) for output in outputs]  # checked after the clock
        outcome.cpu_times_s.append(round(tree_cpu_seconds(this_process) - cpu_before, 4))
        outcome.wall_times_s.append(wall)
        per_core_runs.append(_busy_per_core(cores_before, cores_after))
        digests.add(_combined_digest(results))
    outcome.cpu_per_core = [
        round(statistics.fmean(core), 1) for core in zip(*per_core_runs, strict=True)
    ]
    outcome.final_pss_mb = tree_pss_mb(this_process)
    if workload.summary is not None:  # what the workload measured of itself, last pass
        outcome.details["workload"] = workload.summary(outputs)
    return digests, results


def verify(
    runner: Runner,
    spec: CellSpec,
    outcome: CellOutcome,
    warmup: list[str],
    measured: tuple[set[str], list[str]],
) -> str | None:
    """After timing: the GIL still as requested, every worker ran, outputs consistent."""
    observed_after = runner.observe_workers()
    states_after = [state for _, _, state in observed_after]
    outcome.gil_enabled_after = any(states_after) if states_after else None
    problem = check_gil(spec, states_after, "in worker(s) after timing")
    if problem:
        return problem
    wanted = runner.expected_workers
    if outcome.workers_observed != wanted:
        return (
            f"{outcome.workers_observed} worker(s) answered, {wanted} requested: the pool did "
            "not run the parallelism this cell claims"
        )
    digests, results = measured
    if warmup != results[: len(warmup)]:
        digests.add("warm-up differs")
    if len(digests) != 1:
        return f"outputs differ between repeats: {sorted(digests)}"
    return None


def run_cell(spec: CellSpec) -> CellOutcome:
    outcome = CellOutcome(status="ok", cores=usable_cores())
    outcome.gil_enabled_main = gil_enabled()
    problem = check_gil(spec, [outcome.gil_enabled_main], "after imports")
    if problem:
        outcome.status, outcome.error = "error", problem
        return outcome
    try:
        # a workload this interpreter cannot import or build cannot run here: the reason
        workload = resolve_workload(spec.workload)
        runner: Runner = make_runner(spec.method, spec.workers, start_method=spec.start_method)
        runner.check_work(workload.compute)  # e.g. Pillow in a sub-interpreter
    except (MethodUnavailable, InvalidParameter) as exc:
        outcome.status, outcome.error = "unavailable", exc.message
        return outcome
    outcome.start_method = runner.details.get("start_method")
    with workload.opened(spec.paths) as items, runner:
        try:
            check_sendable(spec.method, workload, items)  # multiprocessing pickles it
        except MethodUnavailable as exc:
            outcome.status, outcome.error = "unavailable", exc.message
            return outcome
        warmup = warm_up(runner, spec, outcome, workload, items)
        # From the orchestrator's spawn (psutil's create_time has a whole-second base).
        launched = spec.launched_at or psutil.Process().create_time()
        outcome.startup_ms = round((time.time() - launched) * 1000, 1)
        problem = check_gil(spec, outcome.gil_enabled_workers, "in worker(s)")
        if problem:
            outcome.status, outcome.error = "error", problem
            return outcome
        digests, results = measure(runner, spec, outcome, workload, items)
        problem = verify(runner, spec, outcome, warmup, (digests, results))
        outcome.details.update({k: v for k, v in runner.details.items() if k != "start_method"})
    if problem:
        outcome.status, outcome.error = "error", problem
    outcome.digest = sorted(digests)[0] if digests else None
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

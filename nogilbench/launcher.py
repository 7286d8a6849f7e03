"""Run one cell in a fresh interpreter process and turn its outcome into a result row.

The orchestrator starts `python -X gil=N -m nogilbench.cell`, samples the resident memory
of the whole process tree (pool workers and forkserver included) from the outside so the
measurement adds no thread to the measured process, and builds the stored row: timings,
CPU, memory, the GIL state observed in the workers, and an error text whenever anything
differs from what was asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import psutil

from nogilbench.cell import CellSpec
from nogilbench.errors import SweepCancelled
from nogilbench.interpreters import InterpreterInfo, usable_cores

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RSS_SAMPLE_INTERVAL_S = 0.02
STOP_POLL_S = 0.2  # how often a running cell looks at its stop event
DEFAULT_CELL_TIMEOUT_S = 900.0


class TreeMemorySampler:
    """Samples the summed RSS of a process and its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak_bytes = 0
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for process in tree:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(RSS_SAMPLE_INTERVAL_S)


def interpreter_label(interpreter: InterpreterInfo) -> str:
    """Short stable name stored in result rows, e.g. 'cpython-3.13.5t' (t = free-threaded)."""
    suffix = "t" if interpreter.free_threaded_build else ""
    return f"{interpreter.implementation.lower()}-{interpreter.version}{suffix}"


def cell_command(interpreter: InterpreterInfo, gil_requested: bool | None) -> list[str]:
    command = [interpreter.path]
    if interpreter.free_threaded_build and gil_requested is not None:
        command += ["-X", f"gil={int(gil_requested)}"]
    return [*command, "-m", "nogilbench.cell"]


def cell_environment() -> dict[str, str]:
    env = dict(os.environ)
    # The cell imports nogilbench from this checkout even if the interpreter's own
    # environment has no copy installed; PYTHON_GIL would override nothing (-X wins) but is
    # dropped so that what was asked is what the command line says.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHON_GIL", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cell_process(
    spec: CellSpec,
    interpreter: InterpreterInfo,
    timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    stop_event: threading.Event | None = None,
) -> tuple[dict[str, Any], float]:
    """Run the cell; return (outcome dict, peak tree RSS in MB). Never raises for cell failures.

    When `stop_event` is set, the cell's process tree is killed and SweepCancelled raised.
    """
    started = time.perf_counter()
    spec = replace(spec, launched_at=time.time())
    process = subprocess.Popen(
        cell_command(interpreter, spec.gil_requested),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cell_environment(),
        cwd=PROJECT_ROOT,
    )
    try:
        with TreeMemorySampler(process.pid) as sampler:
            stdout, stderr = _communicate(process, json.dumps(asdict(spec)), timeout_s, stop_event)
    except subprocess.TimeoutExpired:
        _kill_tree(process)
        return {"status": "error", "error": f"cell timed out after {timeout_s:.0f} s"}, 0.0
    except BaseException:
        _kill_tree(process)  # Ctrl-C or SIGTERM: leave no pool workers behind
        raise
    peak_mb = sampler.peak_bytes / 2**20
    cell_wall_s = time.perf_counter() - started
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        outcome = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        last_error = (stderr.strip().splitlines() or ["no output"])[-1]
        outcome = {"status": "error", "error": f"cell exited {process.returncode}: {last_error}"}
    outcome["cell_wall_s"] = round(cell_wall_s, 4)
    return outcome, peak_mb


def _communicate(
    process: subprocess.Popen[str],
    payload: str,
    timeout_s: float,
    stop_event: threading.Event | None,
) -> tuple[str, str]:
    """`communicate`, waking every STOP_POLL_S to honour `stop_event` (then SweepCancelled)."""
    if stop_event is None:
        return process.communicate(payload, timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    first = True
    while True:
        if stop_event.is_set():
            raise SweepCancelled("the sweep was cancelled")  # the caller kills the tree
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise subprocess.TimeoutExpired(process.args, timeout_s)
        try:
            # Input goes with the first call only; retrying after a timeout loses no output.
            return process.communicate(
                payload if first else None, timeout=min(STOP_POLL_S, remaining)
            )
        except subprocess.TimeoutExpired:
            first = False


def _kill_tree(process: subprocess.Popen[str]) -> None:
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for victim in children:
        with contextlib.suppress(psutil.Error):
            victim.kill()
    process.kill()
    process.wait()


def result_row(
    spec: CellSpec, interpreter: InterpreterInfo, outcome: dict[str, Any], peak_rss_mb: float
) -> dict[str, Any]:
    """The stored columns for one cell (derived speedup/efficiency are filled in later)."""
    walls: list[float] = outcome.get("wall_times_s") or []
    cpu: list[float] = outcome.get("cpu_times_s") or []
    cores = int(outcome.get("cores") or 0) or usable_cores()
    worker_states: list[bool] = outcome.get("gil_enabled_workers") or []
    observed = outcome.get("gil_enabled_main")
    if worker_states:
        observed = any(worker_states)  # one GIL-enabled worker serialises that worker's work
    row: dict[str, Any] = {
        "workload": spec.workload,
        "method": spec.method,
        "workers": spec.workers,
        "images": len(spec.paths),
        "interpreter": interpreter_label(interpreter),
        "interpreter_path": interpreter.path,
        "interpreter_version": interpreter.version,
        "free_threaded_build": interpreter.free_threaded_build,
        "gil_requested": spec.gil_requested,
        "gil_enabled": observed,
        "repeats": len(walls),
        "wall_times_s": [round(wall, 6) for wall in walls],
        "cores": cores,
        "oversubscribed": spec.method != "sync" and spec.workers > cores,
        "start_method": outcome.get("start_method"),
        "status": outcome.get("status", "error"),
        "error": outcome.get("error"),
        "startup_ms": outcome.get("startup_ms"),
        "cell_wall_s": outcome.get("cell_wall_s"),
        "cpu_per_core": outcome.get("cpu_per_core") or [],
        "peak_rss_mb": round(peak_rss_mb, 1) if peak_rss_mb else outcome.get("ru_maxrss_mb"),
    }
    if walls:
        median = statistics.median(walls)
        row.update(
            wall_median_s=round(median, 6),
            wall_min_s=round(min(walls), 6),
            wall_max_s=round(max(walls), 6),
            per_image_ms=round(1000 * median / len(spec.paths), 3),
            throughput_ips=round(len(spec.paths) / median, 3),
            spread=round((max(walls) - min(walls)) / median, 4),
            cpu_percent=round(100 * sum(cpu) / sum(walls), 1) if cpu else None,
        )
    return row


def measure_cell(
    spec: CellSpec,
    interpreter: InterpreterInfo,
    timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    stop_event: threading.Event | None = None,
) -> dict[str, Any]:
    """Run one cell in a fresh process and return its result row (SweepCancelled on stop)."""
    outcome, peak_mb = run_cell_process(spec, interpreter, timeout_s, stop_event)
    return result_row(spec, interpreter, outcome, peak_mb)

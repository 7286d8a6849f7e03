"""Run one round of one cell in a fresh interpreter process: its measurement row.

The orchestrator starts `python -X gil=N -m nogilbench.sweep.worker`, samples the memory (PSS)
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
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

import psutil

from nogilbench.concurrency.workloads import CALLER_CWD_VARIABLE
from nogilbench.errors import SweepCancelled
from nogilbench.host import noise as hostnoise
from nogilbench.host.interpreters import InterpreterInfo
from nogilbench.paths import PROJECT_ROOT
from nogilbench.sweep.scaling import pin_process
from nogilbench.sweep.worker import CellSpec

MEMORY_SAMPLE_INTERVAL_S = 0.5  # PSS of known processes (~0.07 ms each)
TREE_RESCAN_INTERVAL_S = 2.0  # listing the process tree costs ~0.5 ms: done less often
DEFAULT_CELL_TIMEOUT_S = 900.0
STOP_POLL_S = 0.25  # how quickly a cancel stops a running cell


class TreeMemorySampler:
    """Samples the summed PSS (RSS where the OS has no PSS) of a process tree until stopped.

    Runs in the orchestrator, not in the measured process, and records its own CPU cost
    (`cost_percent`, % of one core over its lifetime) so that cost is shown, not assumed.
    """

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak_mb = 0.0
        self.kind = "pss"
        self.cost_percent: float | None = None
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _read(self, process: psutil.Process) -> int:
        if self.kind == "pss":
            try:
                return int(process.memory_full_info().pss)
            except AttributeError:  # no PSS on this OS
                self.kind = "rss"
        return int(process.memory_info().rss)

    def _run(self) -> None:
        cpu_started, wall_started = time.thread_time(), time.perf_counter()
        tree: list[psutil.Process] = []
        rescanned = -TREE_RESCAN_INTERVAL_S
        while not self._stop.is_set():
            now = time.perf_counter()
            if now - rescanned >= TREE_RESCAN_INTERVAL_S:
                try:
                    tree = [self._root, *self._root.children(recursive=True)]
                except psutil.Error:
                    break
                rescanned = now
            total = 0
            for process in tree:
                with contextlib.suppress(psutil.Error):
                    total += self._read(process)
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(MEMORY_SAMPLE_INTERVAL_S)
        wall = time.perf_counter() - wall_started
        if wall > 0:
            self.cost_percent = round(100 * (time.thread_time() - cpu_started) / wall, 3)


def interpreter_label(interpreter: InterpreterInfo) -> str:
    """Short stable name stored in result rows, e.g. 'cpython-3.13.5t' (t = free-threaded)."""
    suffix = "t" if interpreter.free_threaded_build else ""
    return f"{interpreter.implementation.lower()}-{interpreter.version}{suffix}"


def cell_command(interpreter: InterpreterInfo, gil_requested: bool | None) -> list[str]:
    command = [interpreter.path]
    if interpreter.free_threaded_build and gil_requested is not None:
        command += ["-X", f"gil={int(gil_requested)}"]
    return [*command, "-m", "nogilbench.sweep.worker"]


def cell_environment() -> dict[str, str]:
    env = dict(os.environ)
    # The cell imports nogilbench from this checkout even if the interpreter's own
    # environment has no copy installed; PYTHON_GIL would override nothing (-X wins) but is
    # dropped so that what was asked is what the command line says.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHON_GIL", None)
    env["PYTHONUNBUFFERED"] = "1"
    # A user's `module:function` workload is importable in the cell as it was here.
    env[CALLER_CWD_VARIABLE] = os.getcwd()
    return env


def run_cell_process(
    spec: CellSpec,
    interpreter: InterpreterInfo,
    timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    stop_event: threading.Event | None = None,
    pin_cpus: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Run the cell; return its outcome dict plus what was seen from outside. Never raises
    for cell failures (they come back as status "error")."""
    started = time.perf_counter()
    before = hostnoise.snapshot()
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
    if pin_cpus:  # before the spec is sent: the cell waits for it, so nothing timed runs yet
        pin_process(process.pid, pin_cpus)
    try:
        with TreeMemorySampler(process.pid) as sampler:
            stdout, stderr = _communicate(process, json.dumps(asdict(spec)), timeout_s, stop_event)
    except subprocess.TimeoutExpired:
        _kill_tree(process)
        return {"status": "error", "error": f"cell timed out after {timeout_s:.0f} s"}
    except BaseException:
        _kill_tree(process)  # Ctrl-C, SIGTERM or a cancel: leave no pool workers behind
        raise
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        outcome: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        last_error = (stderr.strip().splitlines() or ["no output"])[-1]
        outcome = {"status": "error", "error": f"cell exited {process.returncode}: {last_error}"}
    outcome["cell_wall_s"] = round(time.perf_counter() - started, 4)
    outcome["noise"] = hostnoise.noise_between(before, hostnoise.snapshot())
    final = outcome.get("final_pss_mb") if sampler.kind == "pss" else None
    outcome["peak_memory_mb"] = round(max(sampler.peak_mb, final or 0.0), 1) or None
    outcome["memory_kind"] = sampler.kind
    outcome["sampler_cpu_percent"] = sampler.cost_percent
    return outcome


def _communicate(
    process: subprocess.Popen[str],
    spec_json: str,
    timeout_s: float,
    stop_event: threading.Event | None,
) -> tuple[str, str]:
    """communicate(), waking up every STOP_POLL_S to honour `stop_event` (SweepCancelled)."""
    deadline = time.monotonic() + timeout_s
    sent: str | None = spec_json
    while True:
        remaining = deadline - time.monotonic()
        wait = remaining if stop_event is None else min(remaining, STOP_POLL_S)
        try:
            return process.communicate(sent, timeout=max(wait, 0.0))
        except subprocess.TimeoutExpired:
            sent = None  # the input went in with the first call
            if stop_event is not None and stop_event.is_set():
                raise SweepCancelled(
                    "the sweep was cancelled; the running cell was stopped"
                ) from None
            if time.monotonic() >= deadline:
                raise


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


def measurement_row(spec: CellSpec, label: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """The stored columns of one round of one cell (see store.models.Measurement)."""
    walls: list[float] = outcome.get("wall_times_s") or []
    cpu: list[float] = outcome.get("cpu_times_s") or []
    worker_states: list[bool] = outcome.get("gil_enabled_workers") or []
    observed = outcome.get("gil_enabled_main")
    if worker_states:
        observed = any(worker_states)  # one GIL-enabled worker serialises that worker's work
    details = dict(outcome.get("details") or {})
    if outcome.get("start_method"):
        details["start_method"] = outcome["start_method"]
    details["cores"] = outcome.get("cores")
    return {
        "workload": spec.workload,
        "method": spec.method,
        "workers": spec.workers,
        "images": len(spec.paths),
        "interpreter": label,
        "status": outcome.get("status", "error"),
        "error": outcome.get("error"),
        "wall_s": round(statistics.median(walls), 6) if walls else None,
        "cpu_s": round(sum(cpu) / len(cpu), 4) if cpu else None,
        "cpu_per_core": outcome.get("cpu_per_core") or [],
        "peak_memory_mb": outcome.get("peak_memory_mb"),
        "memory_kind": outcome.get("memory_kind"),
        "startup_ms": outcome.get("startup_ms"),
        "cell_wall_s": outcome.get("cell_wall_s"),
        "gil_enabled": observed,
        "workers_observed": outcome.get("workers_observed"),
        "digest": outcome.get("digest"),
        "sampler_cpu_percent": outcome.get("sampler_cpu_percent"),
        "details": details,
        **(outcome.get("noise") or {}),
    }


def measure_once(
    spec: CellSpec,
    interpreter: InterpreterInfo,
    timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    stop_event: threading.Event | None = None,
    pin_cpus: Sequence[int] | None = None,
) -> dict[str, Any]:
    """One round of one cell in a fresh process (pinned to `pin_cpus` if given): its row."""
    outcome = run_cell_process(spec, interpreter, timeout_s, stop_event, pin_cpus)
    row = measurement_row(spec, interpreter_label(interpreter), outcome)
    if pin_cpus:
        row["details"]["pinned_cpus"] = list(pin_cpus)
    return row

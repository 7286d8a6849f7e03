"""The cell protocol: a fresh process per round, GIL state and workers verified inside it."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

from nogilbench.concurrency.base import WorkerSeen
from nogilbench.concurrency.runners import SyncRunner
from nogilbench.host.interpreters import InterpreterInfo, describe
from nogilbench.sweep.launch import measure_once
from nogilbench.sweep.worker import CellOutcome, CellSpec, verify
from tests.support import ROOT
from tests.support.images import tiny_images


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return tiny_images(tmp_path_factory.mktemp("cell-images"), 4)


@pytest.fixture(scope="module")
def stock() -> InterpreterInfo:
    return describe(sys.executable, "current")


def test_row_has_every_metric(paths: list[str], stock: InterpreterInfo) -> None:
    row = measure_once(CellSpec("pure-python", "multiprocessing", 2, paths, repeats=2), stock)
    assert row["status"] == "ok", row["error"]
    assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["startup_ms"] > 0
    assert row["peak_memory_mb"] > 0 and row["memory_kind"] in ("pss", "rss")
    assert row["workers_observed"] == 2 and row["digest"]
    assert len(row["cpu_per_core"]) >= 1 and row["sampler_cpu_percent"] is not None
    assert row["details"]["start_method"] == "forkserver"
    assert row["gil_enabled"] is True and row["interpreter"].startswith("cpython-")
    assert row["load_1m"] is None or row["load_1m"] >= 0


@pytest.mark.parametrize("method", ["threading", "multiprocessing", "asyncio"])
def test_every_method_computes_what_sync_computes(
    method: str, paths: list[str], stock: InterpreterInfo
) -> None:
    for workload in ("pillow", "pure-python"):
        sync = measure_once(CellSpec(workload, "sync", 1, paths), stock)
        other = measure_once(CellSpec(workload, method, 3, paths), stock)
        assert sync["status"] == other["status"] == "ok", (sync["error"], other["error"])
        assert other["digest"] == sync["digest"]


class _ShiftyRunner(SyncRunner):
    """Answers the worker probe with whatever the test scripts (to exercise `verify`)."""

    def __init__(self, answers: list[WorkerSeen], workers: int = 1) -> None:
        super().__init__(workers)
        self.answers = answers

    @property
    def expected_workers(self) -> int:
        return self.workers

    def observe_workers(self) -> list[WorkerSeen]:
        return self.answers


def test_gil_is_checked_again_after_timing() -> None:
    spec = CellSpec("pillow", "threading", 1, [], gil_requested=False)
    outcome = CellOutcome(status="ok", workers_observed=1)
    runner = _ShiftyRunner([(1, 1, True)])  # an extension turned the GIL on mid-cell
    problem = verify(runner, spec, outcome, [], ({"d"}, []))
    assert problem and "after timing" in problem and outcome.gil_enabled_after is True


def test_fewer_workers_than_requested_is_an_error() -> None:
    spec = CellSpec("pillow", "threading", 4, [], gil_requested=None)
    outcome = CellOutcome(status="ok", workers_observed=2)
    runner = _ShiftyRunner([(1, 1, True), (1, 2, True)], workers=4)
    problem = verify(runner, spec, outcome, [], ({"d"}, []))
    assert problem and "2 worker(s) answered, 4 requested" in problem


def test_free_threaded_on_gil_build_is_unavailable(
    paths: list[str], stock: InterpreterInfo
) -> None:
    row = measure_once(CellSpec("pillow", "free-threaded", 2, paths, repeats=1), stock)
    assert row["status"] == "unavailable" and "gil=0" in row["error"]


def test_gil_mismatch_is_an_error_row(paths: list[str], stock: InterpreterInfo) -> None:
    # Asking a GIL build for "GIL off": the worker observes the GIL on -> error row, no timings.
    row = measure_once(CellSpec("pillow", "threading", 2, paths, gil_requested=False), stock)
    assert row["status"] == "error" and "GIL state mismatch" in row["error"]
    assert row["wall_s"] is None


def test_crashing_cell_is_an_error_row(tmp_path: Path, stock: InterpreterInfo) -> None:
    row = measure_once(CellSpec("pillow", "sync", 1, [str(tmp_path / "none.jpg")]), stock)
    assert row["status"] == "error" and "FileNotFoundError" in row["error"]


@pytest.mark.freethreaded
@pytest.mark.parametrize(
    "method,gil", [("free-threaded", False), ("threading", True), ("multiprocessing", True)]
)
def test_free_threaded_build_gil_observed(
    method: str, gil: bool, paths: list[str], ft_interpreter: InterpreterInfo
) -> None:
    row = measure_once(
        CellSpec("pure-python", method, 2, paths, 1, gil_requested=gil), ft_interpreter
    )
    assert row["status"] == "ok", row["error"]
    assert row["gil_enabled"] is gil and row["interpreter"].endswith("t")
    assert row["workers_observed"] == 2


@pytest.mark.freethreaded
def test_free_threaded_same_output_as_sync(
    paths: list[str], ft_interpreter: InterpreterInfo
) -> None:
    import json
    import subprocess

    from nogilbench.sweep.launch import cell_environment

    script = (
        "import json, sys; from nogilbench.concurrency.runners import make_runner;"
        "from nogilbench.concurrency.workloads import WORKLOADS, load_file;"
        "paths = json.loads(sys.argv[1]); out = {}\n"
        "for m in ('sync', 'free-threaded'):\n"
        "    with make_runner(m, 2) as r:\n"
        "        out[m] = r.map(WORKLOADS['pure-python'], paths, load=load_file)\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run(
        [ft_interpreter.path, "-X", "gil=0", "-c", script, json.dumps(paths)],
        capture_output=True, text=True, env=cell_environment(), cwd=ROOT, check=True,
    )  # fmt: skip
    out = json.loads(done.stdout)
    assert out["sync"] == out["free-threaded"]


def test_cell_stops_when_its_sweep_dies(paths: list[str]) -> None:
    """A SIGKILLed orchestrator leaves no cell burning CPU behind."""
    import json
    import signal
    import subprocess
    import time
    from dataclasses import asdict

    import psutil

    from nogilbench.sweep.launch import cell_environment

    spec = json.dumps(asdict(CellSpec("pure-python", "sync", 1, paths * 50, repeats=100)))
    parent_script = (
        "import subprocess, sys, time\n"
        "cell = subprocess.Popen([sys.executable, '-m', 'nogilbench.sweep.worker'],"
        " stdin=subprocess.PIPE,"
        " stdout=subprocess.DEVNULL, text=True)\n"
        "cell.stdin.write(sys.argv[1]); cell.stdin.close()\n"
        "print(cell.pid, flush=True); time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_script, spec], stdout=subprocess.PIPE, text=True,
        env=cell_environment(), cwd=ROOT,
    )  # fmt: skip
    cell_pid = int(parent.stdout.readline())
    time.sleep(1.0)
    assert psutil.pid_exists(cell_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(cell_pid).wait(timeout=10)
    assert not psutil.pid_exists(cell_pid) or psutil.Process(cell_pid).status() == "zombie"


def test_startup_and_cell_wall_are_consistent(paths: list[str], stock: InterpreterInfo) -> None:
    row = measure_once(CellSpec("pillow", "threading", 2, paths, repeats=2), stock)
    assert 0 < row["startup_ms"] / 1000 < row["cell_wall_s"]
    assert row["startup_ms"] / 1000 + row["wall_s"] <= row["cell_wall_s"]

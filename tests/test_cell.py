"""The cell protocol: a fresh process per cell, GIL state verified inside the workers."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
from helpers import tiny_images

from nogilbench.cell import CellSpec
from nogilbench.interpreters import InterpreterInfo, describe
from nogilbench.launcher import measure_cell


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return tiny_images(tmp_path_factory.mktemp("cell-images"), 4)


@pytest.fixture(scope="module")
def stock() -> InterpreterInfo:
    return describe(sys.executable, "current")


def test_row_has_every_metric(paths: list[str], stock: InterpreterInfo) -> None:
    row = measure_cell(CellSpec("pure-python", "multiprocessing", 2, paths, repeats=2), stock)
    assert row["status"] == "ok", row["error"]
    assert row["repeats"] == 2 and len(row["wall_times_s"]) == 2
    assert row["wall_min_s"] <= row["wall_median_s"] <= row["wall_max_s"]
    assert row["per_image_ms"] == pytest.approx(1000 * row["wall_median_s"] / 4, rel=1e-3)
    assert row["cpu_percent"] > 0 and row["peak_rss_mb"] > 0 and row["startup_ms"] > 0
    assert len(row["cpu_per_core"]) >= 1
    assert row["start_method"] == "forkserver"
    assert row["gil_enabled"] is True and row["interpreter_path"] == sys.executable


def test_free_threaded_on_gil_build_is_unavailable(
    paths: list[str], stock: InterpreterInfo
) -> None:
    row = measure_cell(CellSpec("pillow", "free-threaded", 2, paths, repeats=1), stock)
    assert row["status"] == "unavailable" and "gil=0" in row["error"]


def test_gil_mismatch_is_an_error_row(paths: list[str], stock: InterpreterInfo) -> None:
    # Asking a GIL build for "GIL off": the worker observes the GIL on -> error row, no timings.
    row = measure_cell(CellSpec("pillow", "threading", 2, paths, gil_requested=False), stock)
    assert row["status"] == "error" and "GIL state mismatch" in row["error"]
    assert row.get("wall_median_s") is None and row["repeats"] == 0


def test_crashing_cell_is_an_error_row(tmp_path: Path, stock: InterpreterInfo) -> None:
    row = measure_cell(CellSpec("pillow", "sync", 1, [str(tmp_path / "none.jpg")]), stock)
    assert row["status"] == "error" and "FileNotFoundError" in row["error"]


@pytest.mark.freethreaded
@pytest.mark.parametrize(
    "method,gil", [("free-threaded", False), ("threading", True), ("multiprocessing", True)]
)
def test_free_threaded_build_gil_observed(
    method: str, gil: bool, paths: list[str], ft_interpreter: InterpreterInfo
) -> None:
    row = measure_cell(
        CellSpec("pure-python", method, 2, paths, 1, gil_requested=gil), ft_interpreter
    )
    assert row["status"] == "ok", row["error"]
    assert row["gil_requested"] is gil and row["gil_enabled"] is gil
    assert row["free_threaded_build"] is True


@pytest.mark.freethreaded
def test_free_threaded_same_output_as_sync(
    paths: list[str], ft_interpreter: InterpreterInfo
) -> None:
    import json
    import subprocess

    from nogilbench.launcher import PROJECT_ROOT, cell_environment

    script = (
        "import json, sys; from nogilbench.runners import make_runner;"
        "from nogilbench.workloads import WORKLOADS, load_file;"
        "paths = json.loads(sys.argv[1]); out = {}\n"
        "for m in ('sync', 'free-threaded'):\n"
        "    with make_runner(m, 2) as r:\n"
        "        out[m] = r.map(WORKLOADS['pure-python'], paths, load=load_file)\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run(
        [ft_interpreter.path, "-X", "gil=0", "-c", script, json.dumps(paths)],
        capture_output=True, text=True, env=cell_environment(), cwd=PROJECT_ROOT, check=True,
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

    from nogilbench.launcher import PROJECT_ROOT, cell_environment

    spec = json.dumps(asdict(CellSpec("pure-python", "sync", 1, paths * 50, repeats=100)))
    parent_script = (
        "import subprocess, sys, time\n"
        "cell = subprocess.Popen([sys.executable, '-m', 'nogilbench.cell'], stdin=subprocess.PIPE,"
        " stdout=subprocess.DEVNULL, text=True)\n"
        "cell.stdin.write(sys.argv[1]); cell.stdin.close()\n"
        "print(cell.pid, flush=True); time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_script, spec], stdout=subprocess.PIPE, text=True,
        env=cell_environment(), cwd=PROJECT_ROOT,
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
    row = measure_cell(CellSpec("pillow", "threading", 2, paths, repeats=2), stock)
    timed = sum(row["wall_times_s"])
    assert 0 < row["startup_ms"] / 1000 < row["cell_wall_s"]
    assert row["startup_ms"] / 1000 + timed <= row["cell_wall_s"]

"""loadtest.throughput for real on tiny rounds: three servers (stock, free-threaded with the
GIL on and off) and their library processes, both clients (httpx and wrk), every figure paired
by round, the intervals around their estimates. Speed is not checked: that is the report's."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from loadtest.render_throughput import api_vs_library_section, cpu_section, gil_section
from loadtest.throughput import WORKLOADS, Interpreter, Plan, measure_throughput

pytestmark = [pytest.mark.freethreaded, pytest.mark.slow]


def _inside(ratio: dict[str, float]) -> bool:
    return 0 < ratio["low"] <= ratio["estimate"] <= ratio["high"] and ratio["rounds"] == 2


def test_rounds_pair_the_service_with_its_library(ft_python: str, tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: scripts/setup.sh installs it (Debian: wrk)")
    interpreters = [
        Interpreter("stock CPython", sys.executable, None),
        Interpreter("free-threaded, GIL on", ft_python, 1),
        Interpreter("free-threaded, GIL off", ft_python, 0),
    ]
    plan = Plan(rounds=2, images=3, wrk_seconds=1, cores=2)
    result = measure_throughput(interpreters, plan, tmp_path / "work", tmp_path / "images")

    assert list(result["servers"]) == [i.label for i in interpreters]
    for interpreter, server in zip(interpreters, result["servers"].values(), strict=True):
        assert server["wrk_errors"] == 0
        gil_on = interpreter.gil != 0  # observed inside the server and the library process
        assert server["gil_enabled"] == {"server": gil_on, "library": gil_on}
        for workload in WORKLOADS:
            assert len(server["library_ips"][workload]) == plan.rounds
            assert len(server["wrk_rps"][workload]) == plan.rounds
            assert _inside(server["wrk_vs_library"][workload])
            for run in plan.client_runs:
                assert len(server["api_ips"][f"{workload} {run}"]) == plan.rounds
                assert _inside(server["api_vs_library"][f"{workload} {run}"])
        cpu = server["cpu_ms_per_image"]
        assert all(len(v) == plan.rounds and min(v) > 0 for v in cpu["server"].values())
        assert all(len(v) == plan.rounds and min(v) > 0 for v in cpu["library"].values())
        # Server-Timing of every recorded request: the phases of /process and the whole
        assert {"auth", "lookup", "read", "work", "commit", "app"} <= set(server["phases_ms"])
        assert len(server["client_ms"]) == plan.rounds * plan.images
    for workload in WORKLOADS:
        assert all(_inside(r) for r in result["gil_effect"][workload].values())

    page = "\n".join(api_vs_library_section(result) + gil_section(result) + cpu_section(result))
    assert page.count("| free-threaded, GIL off | pure-python |") == 4  # 3 clients, CPU
    assert "GIL off against GIL on" in page and "### CPU time per image" in page
    assert "free-threaded, GIL off: server off, library off" in page

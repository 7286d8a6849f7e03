"""Sub-interpreters on both 3.13 builds: same outputs as sync, costs measured, Pillow's refusal
found by trying (so the pillow workload lights up the day Pillow loads in them)."""

from __future__ import annotations

import json
import subprocess

import pytest

from nogilbench.host.interpreters import InterpreterInfo, InterpreterUnavailable, find_default_build
from nogilbench.sweep.launch import cell_environment, measure_once
from nogilbench.sweep.worker import CellSpec
from tests.support import ROOT
from tests.support.images import tiny_images

# Runs in the interpreter under test: sync vs subinterpreters on each workload.
SCRIPT = """
import json, sys
from nogilbench.concurrency.base import MethodUnavailable
from nogilbench.concurrency.runners import make_runner
from nogilbench.concurrency.workloads import WORKLOADS, load_file
paths = json.loads(sys.argv[1]); out = {}
for workload, compute in WORKLOADS.items():
    with make_runner("sync", 1) as sync:
        expected = sync.map(compute, paths, load=load_file)
    runner = make_runner("subinterpreters", 2)
    try:
        runner.check_work(compute)
    except MethodUnavailable as exc:
        out[workload] = {"unavailable": exc.message}
        continue
    with runner:
        got = runner.map(compute, paths, load=load_file)
        seen = runner.observe_workers()
    out[workload] = {"same": got == expected, "details": runner.details, "seen": seen}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return tiny_images(tmp_path_factory.mktemp("subinterpreter-images"), 4)


@pytest.fixture(scope="module")
def default_build() -> InterpreterInfo:
    try:
        return find_default_build()
    except InterpreterUnavailable as exc:
        pytest.skip(f"no default (GIL) build: {exc.reason}")


def _run(command: list[str], paths: list[str]) -> dict:
    done = subprocess.run(
        [*command, "-c", SCRIPT, json.dumps(paths)], capture_output=True, text=True,
        env=cell_environment(), cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check(out: dict, gil: bool) -> None:
    pure = out["pure-python"]
    assert pure["same"] is True, pure
    details = pure["details"]
    assert details["interpreter_api"].startswith(("backports.interpreters", "concurrent"))
    assert details["interpreters_start_s"] > 0 and details["imports_s"] > 0
    costs = details["last_map"]
    assert costs["items"] == 4 and costs["kernel_s"] > 0 and costs["prepare_s"] > 0
    assert costs["transfer_s"] >= 0
    assert len({tid for _, tid, _ in pure["seen"]}) == 2  # two interpreters on two threads
    assert all(state is gil for _, _, state in pure["seen"])
    pillow = out["pillow"]
    if "unavailable" in pillow:  # Pillow's own words, found by importing it in there
        assert "sub-interpreter" in pillow["unavailable"]
        assert "PIL" in pillow["unavailable"]
    else:
        assert pillow["same"] is True


def test_default_build(default_build: InterpreterInfo, paths: list[str]) -> None:
    _check(_run([default_build.path], paths), gil=True)


@pytest.mark.freethreaded
@pytest.mark.parametrize("gil", [False, True])
def test_free_threaded_build(ft_python: str, gil: bool, paths: list[str]) -> None:
    _check(_run([ft_python, "-X", f"gil={int(gil)}"], paths), gil=gil)


def test_cell_rows(default_build: InterpreterInfo, paths: list[str]) -> None:
    """A cell stores real timings with the costs for pure-python, `unavailable` for pillow."""
    pure = measure_once(CellSpec("pure-python", "subinterpreters", 2, paths), default_build)
    assert pure["status"] == "ok", pure["error"]
    assert pure["wall_s"] > 0 and pure["workers_observed"] == 2
    assert pure["details"]["last_map"]["kernel_s"] > 0
    assert pure["details"]["interpreters_start_s"] > 0
    pillow = measure_once(CellSpec("pillow", "subinterpreters", 2, paths), default_build)
    if pillow["status"] == "unavailable":
        assert "cannot be imported in a sub-interpreter" in pillow["error"]
    else:
        assert pillow["status"] == "ok", pillow["error"]


def test_interpreter_record_names_the_api(default_build: InterpreterInfo) -> None:
    """`nogilbench info` and the sweep record say where each interpreter's PEP 734 API is from."""
    api = default_build.subinterpreters_api
    if default_build.version.startswith("3.13"):
        assert api is not None and api.startswith("backports.interpreters")
    elif tuple(int(p) for p in default_build.version.split(".")[:2]) >= (3, 14):
        assert api == "concurrent.interpreters"


def test_cost_summary() -> None:
    from nogilbench.concurrency.subinterpreters import cost_summary

    rounds = [
        {"interpreters_start_s": 0.02, "imports_s": 0.01,
         "last_map": {"items": 10, "prepare_s": 0.1, "transfer_s": 0.05, "kernel_s": 0.45}},
        {"interpreters_start_s": 0.04, "imports_s": 0.03,
         "last_map": {"items": 10, "prepare_s": 0.3, "transfer_s": 0.15, "kernel_s": 0.35}},
    ]  # fmt: skip
    assert cost_summary(rounds) == {
        "interpreters_start_ms": 30.0, "imports_ms": 20.0, "prepare_ms_per_image": 20.0,
        "transfer_ms_per_image": 10.0, "kernel_ms_per_image": 40.0, "transfer_share": 0.2,
    }  # fmt: skip
    assert set(cost_summary([{}]).values()) == {None}  # e.g. an unavailable cell

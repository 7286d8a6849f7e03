"""Every runner computes exactly what `sync` computes; unavailable methods say why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nogilbench.concurrency.base import MethodUnavailable, gil_enabled
from nogilbench.concurrency.runners import make_runner
from nogilbench.concurrency.workloads import WORKLOADS, load_file
from nogilbench.errors import NogilbenchError
from tests.support.images import tiny_images


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return tiny_images(tmp_path_factory.mktemp("runner-images"), 5)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("method", ["asyncio", "threading", "multiprocessing"])
def test_same_output_as_sync(method: str, workload: str, paths: list[str]) -> None:
    compute = WORKLOADS[workload]
    with make_runner("sync", 1) as sync:
        expected = sync.map(compute, paths, load=load_file)
    progress: list[int] = []
    with make_runner(method, 2) as runner:
        got = runner.map(compute, paths, load=load_file, on_result=lambda i, _: progress.append(i))
    assert got == expected
    assert sorted(progress) == list(range(len(paths)))


def test_process_runner_records_start_method_and_workers() -> None:
    with make_runner("multiprocessing", 2, start_method="spawn") as runner:
        observed = runner.observe_workers()
    assert runner.details["start_method"] == "spawn"
    assert all(pid != __import__("os").getpid() for pid, _, _ in observed)
    assert all(state == gil_enabled() for _, _, state in observed)
    assert len({pid for pid, _, _ in observed}) == 2  # both worker processes answered


@pytest.mark.parametrize(("method", "workers"), [("threading", 3), ("asyncio", 2), ("sync", 1)])
def test_every_requested_worker_is_observed(method: str, workers: int) -> None:
    with make_runner(method, workers) as runner:
        observed = runner.observe_workers()
    assert len(observed) == workers


def test_free_threaded_refused_with_gil() -> None:
    if not gil_enabled():
        pytest.skip("this interpreter runs with the GIL off")
    with pytest.raises(MethodUnavailable, match="gil=0"):
        make_runner("free-threaded", 2)


def test_subinterpreters_need_313() -> None:
    if sys.version_info >= (3, 13):
        pytest.skip("3.13+ runs sub-interpreters (tests/test_subinterpreters.py)")
    with pytest.raises(MethodUnavailable, match=r"3\.13"):
        make_runner("subinterpreters", 2)


def test_asyncio_keeps_one_loop_and_pool(paths: list[str]) -> None:
    """Created before warm-up, reused by every map: no thread start-up in a timed pass."""
    compute = WORKLOADS["pure-python"]
    with make_runner("asyncio", 2) as runner:
        loop, pool = runner.loop, runner.pool  # type: ignore[attr-defined]
        assert loop is not None and pool is not None and not loop.is_closed()
        runner.map(compute, paths, load=load_file)
        threads = {tid for _, tid, _ in runner.observe_workers()}
        runner.map(compute, paths, load=load_file)
        assert (runner.loop, runner.pool) == (loop, pool)  # type: ignore[attr-defined]
        assert {tid for _, tid, _ in runner.observe_workers()} == threads  # same threads
    assert loop.is_closed()


def test_asyncio_error_leaves_the_loop_usable(tmp_path: Path, paths: list[str]) -> None:
    missing = str(tmp_path / "missing.jpg")
    with make_runner("asyncio", 2) as runner:
        with pytest.raises(FileNotFoundError):
            runner.map(WORKLOADS["pillow"], [missing, *paths], load=load_file)
        assert len(runner.map(WORKLOADS["pillow"], paths, load=load_file)) == len(paths)


@pytest.mark.parametrize("method,workers", [("teleport", 1), ("threading", 0), ("sync", 999)])
def test_bad_runner_arguments(method: str, workers: int) -> None:
    with pytest.raises(NogilbenchError):
        make_runner(method, workers)


def test_worker_error_propagates(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.jpg")
    with make_runner("threading", 2) as runner, pytest.raises(FileNotFoundError):
        runner.map(WORKLOADS["pillow"], [missing], load=load_file)

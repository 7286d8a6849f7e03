"""The loopback upstream, its two clients, and asyncio both ways: waits overlap on the
event loop, CPU work on the loop runs one item at a time."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from pathlib import Path

import pytest

from nogilbench.concurrency.loop import LoopRunner
from nogilbench.concurrency.protocol import Workload
from nogilbench.concurrency.runners import make_runner
from nogilbench.concurrency.upstream import (
    HOST,
    Upstream,
    UpstreamError,
    afetch,
    digest_bytes,
    fetch,
    io_workload,
    mixed_workload,
)
from nogilbench.concurrency.workloads import pillow_compute
from tests.support.images import tiny_images

LATENCY_S = 0.1


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return tiny_images(tmp_path_factory.mktemp("io-images"), 8)


def test_the_upstream_serves_each_file_after_its_latency(paths: list[str]) -> None:
    with Upstream(paths[:2], latency_s=LATENCY_S) as urls:
        assert all(url.startswith(f"http://{HOST}:") for url in urls)
        started = time.perf_counter()
        assert fetch(urls[0]) == Path(paths[0]).read_bytes()
        assert time.perf_counter() - started >= LATENCY_S  # the upstream's own wait
        assert asyncio.run(afetch(urls[1])) == Path(paths[1]).read_bytes()
        base = urls[0].rsplit("/", 1)[0]
        for bad in (f"{base}/2", f"{base}/x"):
            with pytest.raises(UpstreamError, match="404"):
                fetch(bad)
            with pytest.raises(UpstreamError, match="404"):
                asyncio.run(afetch(bad))
        port = int(base.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):  # stopped with the cell
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        connection.request("GET", "/0")


def test_a_malformed_request_gets_no_body(paths: list[str]) -> None:
    with Upstream(paths[:1], latency_s=0) as urls:
        port = int(urls[0].rsplit("/", 1)[0].rsplit(":", 1)[1])
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        connection.request("POST", "/0", body=b"x")
        response = connection.getresponse()
        assert response.status == 404 and response.read() == b""


@pytest.mark.parametrize(("method", "workers"), [("asyncio-loop", 8), ("threading", 8)])
def test_waits_overlap(paths: list[str], method: str, workers: int) -> None:
    """8 items of 100 ms each: sync waits 800 ms; the loop (one thread, asyncio streams) and
    8 threads wait them together, in well under half of that."""
    workload = io_workload(latency_s=LATENCY_S)
    with workload.opened(paths) as items:
        with make_runner("sync", 1) as sync:
            started = time.perf_counter()
            expected = sync.map(workload.compute, items, load=workload.load)
            sync_wall = time.perf_counter() - started
        with make_runner(method, workers) as runner:
            runner.map(workload.compute, items[:1], load=workload.load)  # warm
            started = time.perf_counter()
            got = runner.map(workload.compute, items, load=workload.load)
            wall = time.perf_counter() - started
    assert got == expected == [digest_bytes(Path(p).read_bytes()) for p in paths]
    total_latency = LATENCY_S * len(paths)
    assert sync_wall >= total_latency
    assert wall < total_latency / 2, (wall, sync_wall)


_events: list[tuple[str, int, int]] = []


def _blocking_step(item: int) -> int:
    _events.append(("start", item, threading.get_ident()))
    time.sleep(0.01)  # blocks the loop: nothing else can run meanwhile
    _events.append(("end", item, threading.get_ident()))
    return item * 2


def test_work_without_an_async_form_runs_one_item_at_a_time_on_the_loop() -> None:
    _events.clear()
    with LoopRunner(4) as runner:
        assert runner.map(_blocking_step, list(range(6))) == [0, 2, 4, 6, 8, 10]
        assert len(runner.observe_workers()) == runner.expected_workers == 1
    assert [kind for kind, _, _ in _events] == ["start", "end"] * 6  # never two at once
    assert {thread for _, _, thread in _events} == {threading.get_ident()}  # no pool


def test_the_loop_bounds_items_in_flight(paths: list[str]) -> None:
    in_flight, most = 0, 0

    async def counted(url: str) -> bytes:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await afetch(url)
        finally:
            in_flight -= 1

    def load(url: str) -> bytes:  # pragma: no cover - the loop awaits its async form
        raise AssertionError("the blocking form must not run on the loop")

    load.__nogilbench_async__ = counted  # type: ignore[attr-defined]
    with Upstream(paths, latency_s=0.02) as urls, LoopRunner(3) as runner:
        runner.map(digest_bytes, urls, load=load)
    assert most == 3


def test_mixed_is_fetch_then_the_pillow_pipeline(paths: list[str]) -> None:
    workload = mixed_workload(latency_s=0)
    assert isinstance(workload, Workload) and workload.suggested_workers[-1] > 2
    with workload.opened(paths[:2]) as items:
        outputs = [workload.run_one(item) for item in items]
    assert outputs == [pillow_compute(Path(path).read_bytes()) for path in paths[:2]]

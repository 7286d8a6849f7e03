"""The engine's pool measurements (loadtest.engine_pools) on a tiny load: a real API server,
redis-server and a worker per pool and round. Every job runs exactly once, the rounds
interleave the pools in a rotated order, the figures are there and positive (a prefork
worker's children are in its tree), and the rendered section has a row per pool. The
conclusion's wording follows the paired interval, checked on made-up rounds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from loadtest import engine_pools
from loadtest.engine_pools import (
    REFERENCE,
    PoolsConfig,
    Workload,
    default_pools,
    measure_engine_pools,
    pure_python,
)
from loadtest.engine_pools_render import TITLE, conclusion, render_engine_pools
from loadtest.redis_server import RedisServer
from nogilbench.imaging.pipeline import BENCHMARK_PIPELINE
from nogilbench.results.stats import paired_ratio

TINY = (
    Workload("pure-python", pure_python(48, 1), (64, 43), users=2, jobs_per_user=2,
             items_per_job=2),
    Workload("pillow", BENCHMARK_PIPELINE.to_dict(), (160, 107), users=2, jobs_per_user=1,
             items_per_job=2),
)  # fmt: skip
CONCURRENCY = 2
FIGURES = ("jobs_per_s", "items_per_s", "cpu_s", "cores_busy", "peak_rss_mb", "peak_pss_mb")


def _require_ft() -> bool:
    return os.environ.get("NOGILBENCH_REQUIRE_FT", "").strip().lower() not in ("", "0", "false")


@pytest.mark.slow
def test_every_pool_runs_the_same_jobs_once_in_rotated_rounds(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # redis_server: skips (fails in CI) like the other engine tests when redis-server is
    # missing; the measurement starts its own, private one.
    pytest.importorskip("celery", reason="the Celery engine's extra is not installed")
    config = PoolsConfig(rounds=2, concurrency=CONCURRENCY, workloads=TINY, pools=default_pools())
    results = measure_engine_pools(tmp_path, quick=True, config=config)

    probes = results["probes"]
    missing = {key: probe["reason"] for key, probe in probes.items() if not probe["available"]}
    assert REFERENCE not in missing and "prefork-default" not in missing, missing
    if _require_ft():  # CI: the free-threaded pools must run, never be left out
        assert not missing, missing
    ran = [pool["key"] for pool in results["config"]["pools"] if pool["key"] not in missing]
    assert set(results["rounds"]) == set(results["summary"]) == set(ran)

    # Interleaved: each round runs every pool once, the next round's order rotated by one.
    first, second = results["orders"]
    assert sorted(first) == sorted(ran) and second == first[1:] + first[:1]

    pools = {pool["key"]: pool for pool in results["config"]["pools"]}
    for key, workloads in results["rounds"].items():
        for workload in TINY:
            runs: list[dict[str, Any]] = workloads[workload.name]
            assert len(runs) == 2
            for run in runs:
                assert run["exactly_once"], (key, workload.name, run)
                assert (run["jobs"], run["jobs_completed"], run["items_completed"]) == (
                    workload.jobs, workload.jobs, workload.items,
                )  # fmt: skip
                assert run["max_attempts"] == 1
                assert all(run[figure] > 0 for figure in FIGURES), run
                assert 0 < run["latency_p50_s"] <= run["latency_p95_s"] <= run["wall_s"]
                assert run["peak_pss_mb"] <= run["peak_rss_mb"] and run["others_cores"] >= 0
                # A prefork worker's children are in its tree; a threads worker is one process.
                expected = CONCURRENCY + 1 if pools[key]["pool"] == "prefork" else 1
                assert run["processes"] == expected, (key, run)
            entry = results["summary"][key][workload.name]
            assert entry["exactly_once"] and entry["rounds"] == 2
            # Every job's worker process reported its GIL: off in a GIL-off pool, on in a
            # default build's (the worker says so after each job, not a probe beside it).
            assert entry["gil_in_worker"] == ("GIL off" if pools[key]["gil"] == 0 else "GIL on")
            if key != REFERENCE:
                assert entry["ratio_vs_reference"]["n"] == 2

    # One output file per processed image, across every pool, round and workload: nothing
    # ran twice (a second run would leave a second output).
    outputs = list((tmp_path / "data" / "outputs").iterdir())
    assert len(outputs) == 2 * len(ran) * sum(workload.items for workload in TINY)

    section = render_engine_pools(results)
    assert section.startswith(TITLE)
    for workload in TINY:
        assert f"### {workload.name}" in section
    header = "| pool | interpreter | jobs/s [interval] | items/s [interval] |"
    assert section.count(header) == len(TINY)
    for key in ran:
        label = pools[key]["label"]
        assert section.count(f"| {label} | {probes[key]['interpreter']} |") == len(TINY)
    for key in missing:
        assert f"{pools[key]['label']}: " in section and "**not measured**" in section
    assert "exactly once in every run (one attempt, one output per image): yes" in section


class _Log:
    """A worker whose log is the given text (what `gil_in_worker` reads)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def log(self, tail: int = 4000) -> str:
        return self.text[-tail:]


def test_a_gil_off_pool_whose_worker_reports_the_gil_on_stops_the_measurement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_pools, "REPORT_TIMEOUT_S", 0.1)
    pools = {pool.key: pool for pool in default_pools()}
    off = next(pool for pool in pools.values() if pool.gil == 0)
    default = pools[REFERENCE]
    log = "INFO api.jobs: job 1: done (GIL off)\nINFO api.jobs: job 2: done (GIL off)\n"
    assert engine_pools.gil_in_worker(off, _Log(log), [1, 2]) == "GIL off"
    turned_on = log + "INFO api.jobs: job 3: done (GIL on)\n"
    with pytest.raises(RuntimeError, match="GIL on in a GIL-off worker"):
        engine_pools.gil_in_worker(off, _Log(turned_on), [1, 2, 3])
    assert engine_pools.gil_in_worker(default, _Log(turned_on), [3]) == "GIL on"
    with pytest.raises(RuntimeError, match="no GIL reported for jobs \\[4\\]"):
        engine_pools.gil_in_worker(off, _Log(log), [1, 4])


def _made_up(rounds: dict[str, list[float]]) -> dict[str, Any]:
    """The parts of the results `conclusion` reads, from per-round items/s."""

    def entry(values: list[float]) -> dict[str, Any]:
        middle = sorted(values)[len(values) // 2]
        return {"items_per_s": {"estimate": middle}, "peak_pss_mb": {"estimate": 100.0}}

    return {
        "rounds": {key: {"w": [{"items_per_s": v} for v in runs]} for key, runs in rounds.items()},
        "summary": {key: {"w": entry(runs)} for key, runs in rounds.items()},
    }


def test_the_conclusion_names_a_leader_only_when_the_interval_excludes_one() -> None:
    labels = {"a": "pool A", "b": "pool B"}
    clear = _made_up({"a": [20.0, 21.0, 19.5, 20.5], "b": [10.0, 10.4, 9.9, 10.1]})
    assert conclusion(clear, "w", labels).startswith("pool A leads: 2.00x [1.9")
    # With B as the reference, A's paired ratio against it is stated as told apart.
    clear["config"] = {"reference": "b"}
    a, b = ([run["items_per_s"] for run in clear["rounds"][key]["w"]] for key in "ab")
    clear["summary"]["a"]["w"]["ratio_vs_reference"] = paired_ratio(a, b).as_dict()
    stated = "Items/s against the reference (pool B): told apart: pool A at 2.00x [1.9"
    assert stated in conclusion(clear, "w", labels)
    # The same medians, but the rounds disagree: not told apart.
    noisy = _made_up({"a": [20.0, 21.0, 8.0, 20.5], "b": [10.0, 10.4, 25.0, 10.1]})
    assert "pool A and pool B were not told apart" in conclusion(noisy, "w", labels)

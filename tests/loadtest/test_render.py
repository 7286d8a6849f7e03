"""loadtest.render on tiny figures: ratios within the run, integrity problems, where a
request's time went, and the schemathesis summary when there is one. It measures nothing."""

from __future__ import annotations

from typing import Any

from loadtest.measure import FT_OFF, FT_ON, SERVERS, STOCK
from loadtest.render import profile_rows, render
from loadtest.render_throughput import profile_input, verdict

LATENCY = {"p50": 10.0, "p95": 20.0, "p99": 30.0}
IMAGES_PER_S = {STOCK: 2.0, FT_ON: 1.0, FT_OFF: 3.0}


def _load(images_per_s: float, problems: list[str]) -> dict[str, Any]:
    return {
        "flows_completed": 24, "requests": 100, "errors": 0, "requests_per_s": 5.0,
        "images_per_s": images_per_s, "latency_ms": LATENCY,
        "latency_by_request_ms": {"process": LATENCY}, "server_cpu_per_image_ms": 12.5,
        "integrity_ok": not problems, "integrity_problems": problems,
    }  # fmt: skip


def _ratio(estimate: float, low: float, high: float) -> dict[str, Any]:
    return {"estimate": estimate, "low": low, "high": high, "confidence": 0.95, "rounds": 3}


MET, MISSED, UNDECIDED = _ratio(0.9, 0.85, 0.95), _ratio(0.7, 0.6, 0.75), _ratio(0.8, 0.7, 0.9)


def _server(ratio: dict[str, Any]) -> dict[str, Any]:
    runs = [f"{w} {r}" for w in ("pillow", "pure-python") for r in ("at cores", "queued")]
    return {
        "library_ips": {"pillow": [10.0, 10.0, 10.0], "pure-python": [4.0, 4.0, 4.0]},
        "api_ips": {run: [9.0, 9.0, 9.0] for run in runs},
        "wrk_rps": {"pillow": [9.5, 9.5, 9.5], "pure-python": [3.5, 3.5, 3.5]},
        "wrk_errors": 0,
        "cpu_ms_per_image": {
            "server": {run: [40.0, 44.0, 42.0] for run in runs},
            "client": {run: [3.0, 3.0, 3.0] for run in runs},
            "library": {"pillow": [30.0, 30.0, 31.0], "pure-python": [60.0, 60.0, 60.0]},
        },
        "api_vs_library": {run: ratio for run in runs},
        "wrk_vs_library": {"pillow": ratio, "pure-python": ratio},
        "phases_ms": {"auth": [1.0, 2.0], "work": [5.0, 6.0], "app": [9.0, 10.0]},
        "client_ms": [12.0, 14.0],
    }


def _throughput() -> dict[str, Any]:
    ratios = {STOCK: MET, FT_ON: MISSED, FT_OFF: UNDECIDED}
    return {
        "plan": {"rounds": 3, "images": 8, "wrk_seconds": 1.0, "cores": 2},
        "servers": {label: _server(ratios[label]) for label in SERVERS},
        "gil_effect": {
            "pillow": {"client": _ratio(1.3, 1.2, 1.4), "wrk": _ratio(1.3, 1.2, 1.4),
                       "library": _ratio(1.4, 1.3, 1.5)},
            "pure-python": {"client": _ratio(1.85, 1.81, 1.9), "wrk": _ratio(1.7, 1.5, 1.9),
                            "library": _ratio(1.9, 1.85, 1.95)},
        },
    }  # fmt: skip


def _figures() -> dict[str, Any]:
    throughput = _throughput()
    limit = {"images": 8, "rounds": 3, "direct_ips": 10.0, "library_ips": 9.0,
             "library_vs_direct": 0.9, "library_round_spread": 0.05,
             "direct_round_spread": 0.04}  # fmt: skip
    cell = {"workload": "pillow", "method": "sync", "workers": 1, "interpreter": "x",
            "cell_wall_s": 1.0, "timed_s": 0.8, "overhead_share": 0.2, "spread": None}  # fmt: skip
    overhead = {
        "parameters": {"workloads": ["pillow"], "images": [4], "image_size": [64, 48],
                       "workers": [1, 2], "methods": ["sync"], "repeats": 2},
        "cells_ok": 1, "cells_total": 1, "sweep_wall_s": 3.0, "overhead_share_median": 0.2,
        "overhead_share_max": 0.2, "startup_share_median": 0.1, "spread_median": 0.02,
        "spread_max": 0.05, "cells": [cell],
    }  # fmt: skip
    load = {
        (workload, label): _load(IMAGES_PER_S[label], ["lost x"] if label == FT_OFF else [])
        for workload in ("pillow", "pure-python")
        for label in SERVERS
    }
    return {
        "cores": 2, "wall_s": 12.3, "load_before": (0.5, 0.4, 0.3), "load_after": (1.5, 1.0, 0.5),
        "load": load, "throughput": throughput,
        "pillow_limit": {label: limit for label in SERVERS}, "overhead": overhead,
    }  # fmt: skip


ENVIRONMENT = {
    "cpu": "test CPU", "logical_cores": 2, "physical_cores": 2, "memory_gb": 1.0, "os": "os",
    "commit": "abc1234", "date": "today", "client": "Python 3",
    "interpreters": {label: f"probe of {label}" for label in SERVERS},
}  # fmt: skip


def test_ratios_and_integrity_come_from_the_figures() -> None:
    page = render(_figures(), ENVIRONMENT)
    # ft GIL on / stock, ft GIL off / stock, GIL off / GIL on (images/s), p95 on / off
    assert "| pure-python | 0.50x | 1.50x | 3.00x | 1.00x |" in page
    assert "| lost x |" in page and "| ok |" in page
    assert "(2 usable)" in page and "probe of free-threaded, GIL off" in page
    assert "the host was quiet before the run (1-minute load 0.50 on 2 cores)" in page
    assert "Not run: `make schemathesis-long`" in page


def test_the_schemathesis_summary_is_shown_when_given() -> None:
    summary = {"examples_per_operation": 5, "requests": 100, "operations": 12,
               "server_errors": 0, "failures": {"GET /x": "boom"}}  # fmt: skip
    page = render(_figures(), ENVIRONMENT, summary)
    assert "100 requests over 12 operation/method pairs" in page
    assert "- **failure** GET /x: boom" in page


def test_profile_rows_share_the_client_seen_latency() -> None:
    rows = profile_rows(profile_input(_figures()["throughput"], STOCK), cores=2)
    by_phase = {row[0]: row for row in rows}
    assert by_phase["auth"][2:] == ["1.50", "1.90", "12%"]  # 3 of 26 ms
    assert by_phase["work"][4] == "42%"  # 11 of 26 ms
    assert by_phase["(outside the app)"][4] == "27%"  # 26 - 19 ms in the app
    assert by_phase["(library, same concurrency)"][2] == "200.00"  # 1000 ms x 2 / 10 img/s


def test_a_target_is_met_only_when_the_whole_interval_clears_it() -> None:
    assert verdict(MET, 0.8) == "met"
    assert verdict(MISSED, 0.8) == "**missed**"
    assert verdict(UNDECIDED, 0.8) == "not told apart from the target"
    assert verdict(_ratio(0.8, 0.8, 0.9), 0.8) == "met"  # the bound itself counts


def test_the_throughput_sections_show_each_interval_and_verdict() -> None:
    page = render(_figures(), ENVIRONMENT)
    stock = [line for line in page.splitlines() if line.startswith(f"| {STOCK} | pillow |")]
    assert len(stock) == 4  # two httpx runs, wrk and the CPU row
    assert all("90% [85%, 95%] | met |" in line for line in stock[:3])
    assert f"| {FT_ON} | pure-python | wrk, 2 connections, one image | 4.0 | 3.5 |" in page
    assert "70% [60%, 75%] | **missed** |" in page
    assert "80% [70%, 90%] | not told apart from the target |" in page
    # GIL off / on: the target is judged on the pure-Python operation only
    assert "| pure-python | 1.85x [1.81, 1.90] | met | 1.70x [1.50, 1.90] | not told apart" in page
    assert "| pillow | 1.30x [1.20, 1.40] |  | 1.30x [1.20, 1.40] |  | 1.40x [1.30, 1.50] |" in page


def test_cpu_per_image_shows_what_the_service_adds() -> None:
    page = render(_figures(), ENVIRONMENT)
    # library 30, server 42 (12 of its own), client 3: at most 30 / 45 of the library
    assert f"| {STOCK} | pillow | 30.0 | 42.0 | +12.0 | 3.0 | 67% |" in page
    assert f"| {FT_OFF} | pure-python | 60.0 | 42.0 | -18.0 | 3.0 | 133% |" in page

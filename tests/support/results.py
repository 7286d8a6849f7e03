"""Result rows as a sweep derives them, from synthetic measurements: per-round wall times on a
host whose speed drifts, summarised by nogilbench.results as a sweep summarises them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from nogilbench.report import data
from nogilbench.results import summarize
from nogilbench.store.models import Result

FT = "cpython-3.13.5t"  # the interpreter label of the main (free-threaded) build
DEFAULT = "cpython-3.13.5"
METHODS = ("sync", "threading", "multiprocessing", "free-threaded")
# speedups at >= 2 workers: the GIL binds pure Python; Pillow's C code releases it
PURE_PYTHON = {"sync": 1, "threading": 1.0, "multiprocessing": 1.7, "free-threaded": 1.8}
PILLOW = {"sync": 1, "threading": 1.9, "multiprocessing": 1.5, "free-threaded": 1.6}


DRIFT = (1.0, 1.04, 0.97, 1.02)  # the host's speed per round: pairing by round cancels it


def make_rows(
    walls: dict[tuple[str, str, int, int], float],
    *,
    cores: int = 2,
    spreads: dict[tuple[str, str, int, int], float] | None = None,
    baseline: dict[tuple[str, int], float] | None = None,
    unavailable: dict[str, str] | None = None,
    rounds: int = 4,
) -> list[Result]:
    """Result rows derived as a sweep derives them: per-round measurements (with a drifting
    host and a little jitter per cell) summarised by nogilbench.results.stats."""
    spreads = spreads or {}
    measurements: list[dict[str, Any]] = []

    def measure(workload: str, method: str, workers: int, images: int, wall: float,
                interpreter: str, gil: bool) -> None:  # fmt: skip
        jitter = spreads.get((workload, method, workers, images), 0.01)
        for number in range(rounds):
            wobble = 1 + jitter * ((number * 7 + workers + len(method)) % 3 - 1)
            measurements.append({
                "workload": workload, "method": method, "workers": workers, "images": images,
                "interpreter": interpreter, "round": number, "status": "ok",
                "wall_s": wall * DRIFT[number % len(DRIFT)] * wobble, "digest": "same",
                "cpu_s": wall * (min(workers, cores) if method != "sync" else 1),
                "peak_memory_mb": 150.0 * workers if method == "multiprocessing" else 40.0,
                "memory_kind": "pss", "gil_enabled": gil, "cpu_per_core": [50.0],
                "workers_observed": 1 if method == "sync" else workers,
                "details": {"cores": cores, "gil_requested": gil},
            })  # fmt: skip

    for (workload, method, workers, images), wall in walls.items():
        if method == "sync" and workers != 1:
            continue  # sync is one cell per group
        measure(workload, method, workers, images, wall, FT, method != "free-threaded")
    for (workload, images), wall in (baseline or {}).items():
        measure(workload, "sync", 1, images, wall, DEFAULT, True)
    for method, reason in (unavailable or {}).items():
        for workload in {key[0] for key in walls}:
            for workers in sorted({key[2] for key in walls}):
                measurements.append({
                    "workload": workload, "method": method, "workers": workers, "images": 100,
                    "interpreter": FT, "round": 0, "status": "unavailable", "error": reason,
                    "wall_s": None, "details": {},
                })  # fmt: skip
    default = DEFAULT if baseline else None
    rows = []
    for summary in summarize.summarize_sweep(measurements, cores, default):
        ft = summary["interpreter"] == FT
        rows.append(Result(
            sweep_id=1, interpreter_version="3.13.5", free_threaded_build=ft,
            **{k: v for k, v in summary.items() if k in Result.model_fields},
        ))  # fmt: skip
    return rows


def scaling(
    workload: str, per_method: dict[str, float], workers: tuple[int, ...] = (1, 2, 4, 8)
) -> dict[tuple[str, str, int, int], float]:
    """Wall times: sync fixed at 10 s; each method divides it by its speedup at >= 2 workers."""
    walls = {}
    for method, speedup in per_method.items():
        for count in workers:
            factor = 1.0 if method == "sync" or count == 1 else speedup
            walls[(workload, method, count, 100)] = round(10.0 / factor, 4)
    return walls


def frame_of(rows: list[Result]) -> pd.DataFrame:
    return data.results_frame(rows, "synthetic")

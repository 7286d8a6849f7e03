"""Summaries of cells: a sweep's measurement rows turned into its result rows.

One cell's rounds give its median wall time with an interval, its CPU, memory and the GIL
state observed inside the worker; its speedups are paired by round against the sync cell of
its group (`nogilbench.results.stats`). `refresh_results` is the one writer of a sweep's
result rows: it reads the measurements from the store, summarises them here and hands the
rows back to the store, which never computes anything itself.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from nogilbench.model import CellKey, GroupKey, cell_key, is_oversubscribed
from nogilbench.results import stats
from nogilbench.results.decisions import scaling_anomaly
from nogilbench.store import repository
from nogilbench.store.models import Result

CLOCK_TICK_S = 0.01  # Linux USER_HZ: psutil's CPU times move in these steps


def _rounds(rows: list[dict[str, Any]]) -> dict[int, float]:
    return {row["round"]: row["wall_s"] for row in rows if row["status"] == "ok" and row["wall_s"]}


def _cell_status(rows: list[dict[str, Any]]) -> tuple[str, str | None]:
    for status in ("unavailable", "error"):
        failed = [row for row in rows if row["status"] == status]
        if failed:
            first = min(failed, key=lambda row: row["round"])
            where = "" if status == "unavailable" else f" (round {first['round'] + 1})"
            return status, f"{first['error']}{where}"
    digests = {row["digest"] for row in rows if row.get("digest")}
    if len(digests) > 1:
        return "error", f"outputs differ between rounds: {sorted(digests)}"
    return "ok", None


def _processes(method: str, workers: int) -> int:
    # multiprocessing: the cell, a forkserver and the workers, each read with tick rounding
    return workers + 2 if method == "multiprocessing" else 1


def summarize_cell(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell's result columns from its measurement rows (every round of that cell)."""
    first = rows[0]
    status, error = _cell_status(rows)
    ok = sorted((row for row in rows if row["status"] == "ok" and row["wall_s"]),
                key=lambda row: row["round"])  # fmt: skip
    details = dict(first.get("details") or {})
    summary: dict[str, Any] = {
        "workload": first["workload"], "method": first["method"], "workers": first["workers"],
        "images": first["images"], "interpreter": first["interpreter"], "status": status,
        "error": error, "repeats": len(ok), "wall_times_s": [row["wall_s"] for row in ok],
        "wall_rounds": [row["round"] for row in ok],
        "cores": int(details.get("cores") or 0), "start_method": details.get("start_method"),
        "gil_requested": details.get("gil_requested"),
    }  # fmt: skip
    if not ok:
        return summary
    walls = [row["wall_s"] for row in ok]
    interval = stats.median_interval(walls)
    cpu = [row["cpu_s"] for row in ok if row.get("cpu_s") is not None]
    memory = [row["peak_memory_mb"] for row in ok if row.get("peak_memory_mb")]
    states = [row["gil_enabled"] for row in ok if row.get("gil_enabled") is not None]
    observed = [row["workers_observed"] for row in ok if row.get("workers_observed") is not None]
    per_core = [row["cpu_per_core"] for row in ok if row.get("cpu_per_core")]
    images = first["images"]
    summary.update(
        wall_median_s=round(interval.estimate, 6), wall_low_s=round(interval.low, 6),
        wall_high_s=round(interval.high, 6), wall_confidence=round(interval.confidence, 4),
        wall_min_s=min(walls), wall_max_s=max(walls),
        per_image_ms=round(1000 * interval.estimate / images, 3),
        throughput_ips=round(images / interval.estimate, 3),
        spread=round((max(walls) - min(walls)) / interval.estimate, 4),
        cpu_percent=round(100 * sum(cpu) / sum(walls), 1) if cpu else None,
        cpu_resolution=round(
            100 * 2 * CLOCK_TICK_S * _processes(first["method"], first["workers"]) * len(cpu)
            / sum(walls), 1,
        ) if cpu else None,
        cpu_per_core=[round(statistics.fmean(core), 1) for core in zip(*per_core, strict=False)],
        peak_rss_mb=max(memory) if memory else None,
        memory_kind=ok[-1].get("memory_kind"),
        gil_enabled=any(states) if states else None,
        workers_observed=min(observed) if observed else None,
        digest=ok[0].get("digest"),
        startup_ms=statistics.median(
            [row["startup_ms"] for row in ok if row.get("startup_ms") is not None] or [0.0]
        ),
        cell_wall_s=round(sum(row.get("cell_wall_s") or 0.0 for row in ok), 4),
    )  # fmt: skip
    return summary


def _baseline_rows(
    cells: dict[CellKey, list[dict[str, Any]]], workload: str, images: int, interpreter: str
) -> list[dict[str, Any]] | None:
    """The sync cell of a comparison group (the one with the fewest workers if several)."""
    found = [key for key in cells if key[0] == workload and key[1] == "sync"
             and key[3] == images and key[4] == interpreter]  # fmt: skip
    return cells[min(found, key=lambda key: key[2])] if found else None


def _store(summary: dict[str, Any], prefix: str, interval: stats.Interval | None) -> None:
    if interval is None:
        return
    summary[prefix] = round(interval.estimate, 4)
    summary[f"{prefix}_low"] = round(interval.low, 4)
    summary[f"{prefix}_high"] = round(interval.high, 4)


def summarize_sweep(
    measurements: list[dict[str, Any]], cores: int, default_build: str | None = None
) -> list[dict[str, Any]]:
    """Every cell's result columns, speedups paired by round against the group's sync cell.

    `default_build`: the label of the default (GIL) build's interpreter, if the sweep ran one:
    every cell then also gets `speedup_default`, against sync on that build.
    """
    cells: dict[CellKey, list[dict[str, Any]]] = {}
    for row in measurements:
        cells.setdefault(cell_key(row), []).append(row)
    summaries = []
    for key, rows in cells.items():
        workload, method, workers, images, interpreter = key
        summary = summarize_cell(rows)
        summary["cores"] = summary["cores"] or cores
        usable = summary["cores"]
        summary["oversubscribed"] = is_oversubscribed(method, workers, usable)
        summary["ideal_speedup"] = stats.ideal_speedup(method, workers, usable, images)
        baseline = _baseline_rows(cells, workload, images, interpreter)
        if summary["status"] == "ok" and baseline is not None:
            base = summarize_cell(baseline)
            if base["status"] == "ok" and base.get("digest") != summary.get("digest"):
                summary["status"] = "error"
                summary["error"] = (
                    f"outputs differ from sync's on {interpreter} "
                    f"({summary.get('digest')} vs {base.get('digest')})"
                )
        if summary["status"] == "ok":
            _add_speedups(summary, rows, baseline, cells, default_build)
        summaries.append(summary)
    return summaries


def _add_speedups(
    summary: dict[str, Any],
    rows: list[dict[str, Any]],
    baseline: list[dict[str, Any]] | None,
    cells: dict[CellKey, list[dict[str, Any]]],
    default_build: str | None,
) -> None:
    own = _rounds(rows)
    speedup = stats.ratio_between(_rounds(baseline), own) if baseline is not None else None
    _store(summary, "speedup", speedup)
    if default_build is not None:
        other = _baseline_rows(cells, summary["workload"], summary["images"], default_build)
        if other is not None:
            _store(summary, "speedup_default", stats.ratio_between(_rounds(other), own))
    if speedup is None:
        return
    ideal = summary["ideal_speedup"]
    _store(summary, "efficiency", stats.efficiency(speedup, ideal))
    # Plausibility against the method's own 1-worker time where it was measured (a method
    # may do an item faster than sync does), else against sync; with a margin (decisions.
    # ANOMALY_MARGIN). An anomaly annotates the cell, it never removes it.
    one_worker = cells.get(
        (summary["workload"], summary["method"], 1, summary["images"], summary["interpreter"])
    )
    reference = _rounds(one_worker) if summary["workers"] > 1 and one_worker else None
    against = "its own 1-worker time"
    if reference is None and baseline is not None and summary["method"] != "sync":
        reference, against = _rounds(baseline), "sync's time"
    if reference is not None and len(set(reference) & set(own)) >= 2:
        anomaly = scaling_anomaly(reference, own, ideal)
        if anomaly is not None:
            summary["anomaly"] = anomaly.text().replace("its own 1-worker time", against)


def refresh_results(
    session: Session, sweep_id: int, groups: Iterable[GroupKey] | None = None
) -> list[Result]:
    """Recompute every cell's result row of a sweep from its measurements.

    Derived values are never stored alone: a crash between a measurement's commit and this
    refresh leaves nothing stale, because the next refresh (each round, each resume)
    recomputes them all. `groups`: recompute only these (workload, images) groups (every
    speedup pairs cells of one group, so the others cannot change); the whole sweep's rows
    are returned either way.
    """
    sweep = repository.get_sweep(session, sweep_id)
    if sweep is None:
        return []
    groups = None if groups is None else list(groups)
    summaries = summarize_sweep(
        repository.measurements_of(session, sweep_id, groups),
        repository.usable_cores_of(sweep), repository.default_build_of(sweep),
    )  # fmt: skip
    return repository.replace_results(session, sweep, summaries, groups)

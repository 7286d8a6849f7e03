"""Tables computed from stored result rows: one definition for the CLI, notebooks and API.

Pure Python over `Result` rows (or dicts with the same keys), so it works in every
environment, the free-threaded server included; notebooks turn the output into DataFrames.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from nogilbench.runners import METHODS

UNSTABLE_SPREAD = 0.25  # (max - min) / median of the repeats above this: marked unstable

SUMMARY_COLUMNS = (
    "sweep_id", "workload", "interpreter", "method", "workers", "images", "status",
    "gil_enabled", "wall_median_s", "per_image_ms", "speedup", "efficiency", "cpu_percent",
    "peak_rss_mb", "spread", "unstable", "oversubscribed", "error",
)  # fmt: skip


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def summary_rows(results: Iterable[Any]) -> list[dict[str, Any]]:
    """One flat dict per cell with the columns a reader compares, plus the `unstable` flag."""
    rows = []
    for result in results:
        row = {name: _get(result, name) for name in SUMMARY_COLUMNS if name != "unstable"}
        spread = row.get("spread")
        row["unstable"] = spread is not None and spread > UNSTABLE_SPREAD
        rows.append({name: row.get(name) for name in SUMMARY_COLUMNS})
    return rows


def method_order(method: str) -> int:
    return METHODS.index(method) if method in METHODS else len(METHODS)


def final_table(results: Sequence[Any], workload: str, workers: int) -> list[dict[str, Any]]:
    """The report's headline table for one workload at one worker count.

    Rows are methods (per interpreter); columns: median wall time per image count, peak
    memory and CPU% (at the largest image count). Cells that did not run say why.
    """
    chosen = [
        r for r in results
        if _get(r, "workload") == workload
        and (_get(r, "workers") == workers or _get(r, "interpreter") != _main_interpreter(results))
    ]  # fmt: skip
    counts = sorted({_get(r, "images") for r in chosen})
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for r in sorted(chosen, key=lambda r: (method_order(_get(r, "method")), _get(r, "images"))):
        key = (_get(r, "method"), _get(r, "interpreter"))
        line = table.setdefault(key, {"method": key[0], "interpreter": key[1]})
        ok = _get(r, "status") == "ok"
        line[f"time_{_get(r, 'images')}_s"] = _get(r, "wall_median_s") if ok else None
        if _get(r, "images") == max(counts):
            line["memory_mb"] = _get(r, "peak_rss_mb") if ok else None
            line["cpu_percent"] = _get(r, "cpu_percent") if ok else None
            line["speedup"] = _get(r, "speedup") if ok else None
            line["status"] = _get(r, "status")
            line["note"] = None if ok else _get(r, "error")
    return list(table.values())


def _main_interpreter(results: Sequence[Any]) -> str | None:
    """The interpreter that ran the whole matrix (the baseline build only ran `sync`)."""
    counts: dict[str, int] = {}
    for r in results:
        counts[_get(r, "interpreter")] = counts.get(_get(r, "interpreter"), 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def speedup_grid(results: Sequence[Any], workload: str, images: int) -> list[dict[str, Any]]:
    """Method x workers grid of (median wall, speedup) at one image count, main interpreter."""
    main = _main_interpreter(results)
    grid: dict[str, dict[str, Any]] = {}
    for r in results:
        if (_get(r, "workload"), _get(r, "images"), _get(r, "interpreter")) != (
            workload,
            images,
            main,
        ):
            continue
        line = grid.setdefault(_get(r, "method"), {"method": _get(r, "method")})
        line[_get(r, "workers")] = (
            (_get(r, "wall_median_s"), _get(r, "speedup"), _get(r, "oversubscribed"))
            if _get(r, "status") == "ok"
            else (None, None, _get(r, "status"))
        )
    return sorted(grid.values(), key=lambda line: method_order(line["method"]))

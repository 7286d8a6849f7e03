"""Tables computed from stored result rows: one definition for the CLI, notebooks and API.

Pure Python over `Result` rows (or dicts with the same keys), so it works in every
environment, the free-threaded server included; notebooks turn the output into DataFrames.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from nogilbench.concurrency.runners import METHODS

# A cell whose wall-time interval reaches further than +-10% of its median is marked
# `unstable` (imprecise): read it with its interval, never as a single number.
UNSTABLE_HALF_WIDTH = 0.10

SUMMARY_COLUMNS = (
    "sweep_id", "workload", "interpreter", "method", "workers", "images", "status",
    "gil_enabled", "wall_median_s", "wall_low_s", "wall_high_s", "wall_confidence",
    "per_image_ms", "speedup", "speedup_low", "speedup_high", "speedup_default",
    "speedup_default_low", "speedup_default_high", "ideal_speedup", "efficiency",
    "efficiency_low", "efficiency_high", "anomaly", "cpu_percent", "cpu_resolution",
    "peak_rss_mb", "memory_kind", "spread", "unstable", "oversubscribed", "error",
)  # fmt: skip


def half_width(row: Any) -> float | None:
    """The larger side of a cell's wall-time interval, as a fraction of its median."""
    median, low, high = (value_of(row, n) for n in ("wall_median_s", "wall_low_s", "wall_high_s"))
    if not median or low is None or high is None:
        return None
    return max(high / median - 1, 1 - low / median)


def value_of(row: Any, name: str) -> Any:
    """A column of a `Result` row or of a dict with the same keys."""
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def summary_rows(results: Iterable[Any]) -> list[dict[str, Any]]:
    """One flat dict per cell with the columns a reader compares, plus the `unstable` flag."""
    rows = []
    for result in results:
        row = {name: value_of(result, name) for name in SUMMARY_COLUMNS}
        width = half_width(result)
        row["unstable"] = width is not None and width > UNSTABLE_HALF_WIDTH
        rows.append(row)
    return rows


# The models in the order every table and figure lists them: asyncio-loop (asyncio with the
# work on the loop itself) beside asyncio, as the report's labels and the workloads sweep's
# parameters list them, not after the default sweep's methods.
_BESIDE_ASYNCIO = METHODS.index("asyncio") + 1
MODEL_ORDER = (*METHODS[:_BESIDE_ASYNCIO], "asyncio-loop", *METHODS[_BESIDE_ASYNCIO:])


def method_order(method: str) -> int:
    """A method's place in MODEL_ORDER; a method not in it (none today) goes last."""
    return MODEL_ORDER.index(method) if method in MODEL_ORDER else len(MODEL_ORDER)


def final_table(results: Sequence[Any], workload: str, workers: int) -> list[dict[str, Any]]:
    """The report's headline table for one workload at one worker count.

    Rows are methods (per interpreter); columns: median wall time per image count, peak
    memory and CPU% (at the largest image count). Cells that did not run say why.
    """
    # `sync` is one cell per group (it ignores the worker count): shown at every worker count.
    chosen = [
        r for r in results
        if value_of(r, "workload") == workload
        and (value_of(r, "workers") == workers or value_of(r, "method") == "sync")
    ]  # fmt: skip
    largest = max((value_of(r, "images") for r in chosen), default=None)
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for r in sorted(
        chosen, key=lambda r: (method_order(value_of(r, "method")), value_of(r, "images"))
    ):
        key = (value_of(r, "method"), value_of(r, "interpreter"))  # both builds, each labelled
        line = table.setdefault(key, {"method": key[0], "interpreter": key[1]})
        ok = value_of(r, "status") == "ok"
        count = value_of(r, "images")
        line[f"time_{count}_s"] = value_of(r, "wall_median_s") if ok else None
        line[f"time_{count}_low_s"] = value_of(r, "wall_low_s") if ok else None
        line[f"time_{count}_high_s"] = value_of(r, "wall_high_s") if ok else None
        line[f"time_{count}_confidence"] = value_of(r, "wall_confidence") if ok else None
        if value_of(r, "images") == largest:
            line["memory_mib"] = value_of(r, "peak_rss_mb") if ok else None
            line["cpu_percent"] = value_of(r, "cpu_percent") if ok else None
            for name in ("speedup", "speedup_low", "speedup_high", "speedup_default",
                         "speedup_default_low", "speedup_default_high", "anomaly"):  # fmt: skip
                line[name] = value_of(r, name) if ok else None
            line["status"] = value_of(r, "status")
            line["note"] = None if ok else value_of(r, "error")
    return list(table.values())


def main_interpreter(results: Sequence[Any]) -> str | None:
    """The interpreter that ran the whole matrix (the baseline build only ran `sync`)."""
    counts: dict[str, int] = {}
    for r in results:
        counts[value_of(r, "interpreter")] = counts.get(value_of(r, "interpreter"), 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def speedup_grid(results: Sequence[Any], workload: str, images: int) -> list[dict[str, Any]]:
    """Method x workers grid of (median wall, speedup) at one image count, main interpreter."""
    main = main_interpreter(results)
    grid: dict[str, dict[str, Any]] = {}
    for r in results:
        if (value_of(r, "workload"), value_of(r, "images"), value_of(r, "interpreter")) != (
            workload,
            images,
            main,
        ):
            continue
        line = grid.setdefault(value_of(r, "method"), {"method": value_of(r, "method")})
        line[value_of(r, "workers")] = (
            (value_of(r, "wall_median_s"), value_of(r, "speedup"), value_of(r, "oversubscribed"))
            if value_of(r, "status") == "ok"
            else (None, None, value_of(r, "status"))
        )
    return sorted(grid.values(), key=lambda line: method_order(line["method"]))

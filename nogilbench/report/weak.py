"""Weak scaling: each worker gets the same number of images, so the ideal wall time is flat.

A weak-scaling sweep (`nogilbench sweep --scaling weak`) stores, for each worker count w, a
group of w x k images with every method at w workers. Weak efficiency is T(1 worker, k
images) / T(w workers, w x k images) of the same method and build: 1.0 while every worker has
a core, at best cores/w past them. Its interval comes from nogilbench.results.stats (unpaired: the
groups never share a round); a claim is made only where the interval resolves it.
"""

from __future__ import annotations

import pandas as pd

from nogilbench.model import is_oversubscribed
from nogilbench.report.data import method_label, ok_rows
from nogilbench.results import stats

WIDE = 0.20  # past +-20% an interval cannot tell "flat" from "far from flat" (as conclusions)
COLUMNS = (
    "workload", "method", "interpreter", "label", "workers", "images", "wall_median_s",
    "wall_low_s", "wall_high_s", "efficiency", "efficiency_low", "efficiency_high", "ideal",
    "oversubscribed",
)  # fmt: skip


def weak_frame(frame: pd.DataFrame, cores: int, main: str | None = None) -> pd.DataFrame:
    """One row per (workload, method, build, workers) of a weak sweep, with weak efficiency
    against the same method's 1-worker cell (sync, one worker at every size, is left out)."""
    rows = ok_rows(frame)
    rows = rows[rows["method"] != "sync"]
    found = []
    for (workload, method, interpreter), line in rows.groupby(
        ["workload", "method", "interpreter"], sort=False
    ):
        single = line[line["workers"] == 1]
        if single.empty:
            continue
        reference = list(single.iloc[0]["wall_times_s"] or [])
        for _, cell in line.sort_values("workers").iterrows():
            walls = list(cell["wall_times_s"] or [])
            if not walls or not reference:
                continue
            ratio = stats.weak_efficiency(reference, walls)
            workers = int(cell["workers"])
            found.append({
                "workload": workload, "method": method, "interpreter": interpreter,
                "label": method_label(method, interpreter, main), "workers": workers,
                "images": int(cell["images"]), "wall_median_s": cell["wall_median_s"],
                "wall_low_s": cell["wall_low_s"], "wall_high_s": cell["wall_high_s"],
                "efficiency": ratio.estimate, "efficiency_low": ratio.low,
                "efficiency_high": ratio.high,
                "ideal": stats.ideal_weak_efficiency(method, workers, cores),
                "oversubscribed": is_oversubscribed(method, workers, cores),
            })  # fmt: skip
    return pd.DataFrame(found, columns=list(COLUMNS))


def weak_sentences(weak: pd.DataFrame, cores: int) -> list[str]:
    """Per workload and build: how far from flat each method stayed at the core count."""
    if weak.empty:
        return []
    lines = []
    at_cores = weak[weak["workers"] == min(cores, int(weak["workers"].max()))]
    for workload, rows in at_cores.groupby("workload", sort=False):
        for _, cell in rows.iterrows():
            interval = stats.Interval(
                cell["efficiency"], cell["efficiency_low"], cell["efficiency_high"],
                stats.CONFIDENCE, "Welch t on logs", 0,
            )  # fmt: skip
            where = (
                f"{cell['label']} on {workload} with {cell['workers']} workers and "
                f"{cell['images']} images"
            )
            text = interval.text()
            if interval.high < 0.98 * cell["ideal"]:
                verdict = "slower than flat: part of the work did not run in parallel"
            elif interval.low > 1.02 * cell["ideal"]:
                verdict = "above the ideal: a measurement anomaly, not a finding"
            elif interval.relative_half_width > WIDE:
                verdict = "this run cannot tell (the interval is too wide; more rounds would)"
            else:
                verdict = "indistinguishable from flat (ideal) here"
            lines.append(f"{where}: weak efficiency {text} (ideal {cell['ideal']:.2f}): {verdict}.")
    return lines

"""The report's figures (seaborn/matplotlib), each readable without the code: titled, labelled
axes, units, the core count marked; cells whose repeats disagree are drawn as hollow red
markers and called out in the legend, never plotted as if they were solid numbers.

Every function takes the results frame of one sweep (`data.results_frame`) and returns a
matplotlib Figure, or None when the data holds nothing to draw.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from nogilbench.report.conclusions import build_cost_frame
from nogilbench.report.data import FIGURES_DIR, main_rows, method_label, ok_rows
from nogilbench.results.tables import UNSTABLE_HALF_WIDTH, method_order

PALETTE = {
    "sync": "#7f7f7f",
    "asyncio": "#bcbd22",
    "threading": "#d62728",
    "multiprocessing": "#1f77b4",
    "free-threaded": "#2ca02c",
    "subinterpreters": "#9467bd",
    "asyncio-loop": "#8c564b",
}
UNSTABLE_LABEL = f"imprecise: interval wider than ±{UNSTABLE_HALF_WIDTH:.0%}"
INTERVAL_NOTE = "bars: 95% interval of the median (under 6 rounds: min-max, a lower level)"
PAIRED_NOTE = "bars: 95% interval, paired by round"


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    rows = ok_rows(main_rows(frame)).copy()
    if rows.empty:
        return rows
    rows["order"] = rows["method"].map(method_order)
    rows["label"] = rows["method"].map(method_label)
    return rows.sort_values(["order", "workers"])


def _largest_batch(
    frame: pd.DataFrame, column: str, *, without_sync: bool = False
) -> tuple[pd.DataFrame, int] | None:
    """Plottable rows of the largest image count that have `column`, and that count."""
    rows = _prepare(frame)
    if rows.empty:
        return None
    rows = rows[rows[column].notna()]
    if without_sync:
        rows = rows[rows["method"] != "sync"]
    if rows.empty:
        return None
    count = int(rows["images"].max())
    return rows[rows["images"] == count], count


def _hue_order(rows: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(rows.sort_values("order")["method"]))


def _legend(fig: Figure, methods: list[str], extra: list[Line2D] | None = None) -> None:
    handles = [
        Line2D([], [], color=PALETTE.get(m, "black"), marker="o", label=method_label(m))
        for m in methods
    ]
    handles += extra or []
    fig.legend(
        handles=handles, loc="outside lower center", ncol=min(len(handles), 4), frameon=False
    )


def _unstable_handle() -> Line2D:
    return Line2D(
        [], [], linestyle="none", marker="o", markerfacecolor="none", markeredgecolor="red",
        markersize=11, label=UNSTABLE_LABEL,
    )  # fmt: skip


def _mark_unstable(ax: plt.Axes, rows: pd.DataFrame, y: str) -> bool:
    flagged = rows[rows["unstable"].astype(bool)]
    if flagged.empty:
        return False
    ax.scatter(
        flagged["workers"], flagged[y], s=160, facecolors="none", edgecolors="red",
        linewidths=1.5, zorder=5,
    )  # fmt: skip
    return True


def _errorbar(ax: plt.Axes, line: pd.DataFrame, y: str, low: str, high: str, method: str) -> None:
    """Points joined by a line, bars from the stored interval columns (not min-max)."""
    below = (line[y] - line[low]).clip(lower=0).fillna(0)
    above = (line[high] - line[y]).clip(lower=0).fillna(0)
    ax.errorbar(
        line["workers"], line[y], yerr=[below, above], color=PALETTE.get(method), marker="o",
        capsize=3, label=method_label(method),
    )  # fmt: skip


def _mark_anomalies(ax: plt.Axes, rows: pd.DataFrame, y: str) -> bool:
    flagged = rows[rows["anomaly"].fillna("").astype(bool)]
    if flagged.empty:
        return False
    ax.scatter(flagged["workers"], flagged[y], s=140, marker="x", color="red", zorder=6)
    return True


def _anomaly_handle() -> Line2D:
    return Line2D([], [], linestyle="none", marker="x", color="red", markersize=10,
                  label="anomaly: above the physical limit")  # fmt: skip


def _workers_axis(ax: plt.Axes, workers: list[int], cores: int) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(workers, [str(w) for w in workers])
    ax.minorticks_off()
    ax.axvline(cores, color="black", linestyle=":", linewidth=1)
    ax.text(cores, 1.0, f" {cores} cores", transform=ax.get_xaxis_transform(), va="top", fontsize=8)


def _grid(rows: int, cols: int, width: float = 4.2, height: float = 3.4) -> tuple[Figure, list]:
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows + 0.9), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    return fig, axes


def wall_time_figure(frame: pd.DataFrame, cores: int) -> Figure | None:
    """Median wall time vs workers per method; rows: workloads, columns: image counts."""
    rows = _prepare(frame)
    if rows.empty:
        return None
    workloads = list(dict.fromkeys(rows["workload"]))
    counts = sorted(rows["images"].unique())
    workers = sorted(rows["workers"].unique())
    methods = _hue_order(rows)
    fig, axes = _grid(len(workloads), len(counts))
    flagged = False
    for i, workload in enumerate(workloads):
        for j, count in enumerate(counts):
            ax = axes[i][j]
            cell = rows[(rows["workload"] == workload) & (rows["images"] == count)]
            for method in methods:
                line = cell[cell["method"] == method]
                if line.empty:
                    continue
                if method == "sync":  # one cell per group: a band across every worker count
                    sync = line.iloc[0]
                    ax.axhline(sync["wall_median_s"], color=PALETTE["sync"], linewidth=1.5)
                    ax.axhspan(sync["wall_low_s"], sync["wall_high_s"], color=PALETTE["sync"],
                               alpha=0.2)  # fmt: skip
                    continue
                _errorbar(ax, line, "wall_median_s", "wall_low_s", "wall_high_s", method)
            flagged |= _mark_unstable(ax, cell, "wall_median_s")
            _workers_axis(ax, workers, cores)
            ax.set_ylim(bottom=0)
            ax.set_title(f"{workload}, {count} images", fontsize=10)
            ax.set_xlabel("workers")
            ax.set_ylabel("wall time, median (s)" if j == 0 else "")
    fig.suptitle(
        f"Wall time vs workers, median ({INTERVAL_NOTE}; grey band: sync; lower is better)"
    )
    _legend(fig, methods, [_unstable_handle()] if flagged else None)
    return fig


def speedup_figure(frame: pd.DataFrame, cores: int) -> Figure | None:
    """Speedup vs sync against workers, with the ideal line and the core count, per workload."""
    picked = _largest_batch(frame, "speedup")
    if picked is None:
        return None
    rows, count = picked
    workloads = list(dict.fromkeys(rows["workload"]))
    workers = sorted(rows["workers"].unique())
    methods = _hue_order(rows)
    fig, axes = _grid(1, len(workloads), width=5.2, height=4.0)
    flagged = anomalous = False
    for j, workload in enumerate(workloads):
        ax = axes[0][j]
        cell = rows[rows["workload"] == workload]
        for method in methods:
            line = cell[(cell["method"] == method) & (cell["method"] != "sync")]
            if not line.empty:
                _errorbar(ax, line, "speedup", "speedup_low", "speedup_high", method)
        ideal = [min(w, cores) for w in workers]
        ax.plot(workers, ideal, color="black", linestyle="--", linewidth=1.5)
        ax.axhline(1.0, color=PALETTE["sync"], linewidth=1)
        flagged |= _mark_unstable(ax, cell, "speedup")
        anomalous |= _mark_anomalies(ax, cell, "speedup")
        _workers_axis(ax, workers, cores)
        ax.set_yscale("log", base=2)
        ticks = sorted({0.5, 1, 2, *workers})
        ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
        ax.minorticks_off()
        ax.set_title(f"{workload}, {count} images", fontsize=10)
        ax.set_xlabel("workers")
        ax.set_ylabel("speedup vs sync" if j == 0 else "")
    extra = [
        Line2D([], [], color="black", linestyle="--", linewidth=1.5,
               label=f"ideal: min(workers, {cores} cores)"),
    ]  # fmt: skip
    if flagged:
        extra.append(_unstable_handle())
    if anomalous:
        extra.append(_anomaly_handle())
    fig.suptitle(f"Speedup vs sync, same build ({PAIRED_NOTE}, t on log ratios; higher is better)")
    _legend(fig, methods, extra)
    return fig


def weak_scaling_figure(weak: pd.DataFrame, cores: int) -> Figure | None:
    """Weak scaling (report.weak.weak_frame): wall time vs workers, each method's 1-worker
    time drawn as its flat ideal, and weak efficiency with the ideal min(w, cores)/w."""
    if weak.empty:
        return None
    workloads = list(dict.fromkeys(weak["workload"]))
    workers = sorted(weak["workers"].unique())
    fig, axes = _grid(2, len(workloads), width=5.2, height=3.6)
    labels: dict[str, tuple[str, str]] = {}  # legend label -> (method, line style)
    for j, workload in enumerate(workloads):
        rows = weak[weak["workload"] == workload]
        time_ax, efficiency_ax = axes[0][j], axes[1][j]
        for (method, label), line in rows.groupby(["method", "label"], sort=False):
            style = "-" if label == method_label(method) else "--"  # default build: dashed
            color = PALETTE.get(method, "black")
            labels[label] = (method, style)
            for ax, y in ((time_ax, "wall_median_s"), (efficiency_ax, "efficiency")):
                low, high = ("wall_low_s", "wall_high_s") if y == "wall_median_s" else (
                    "efficiency_low", "efficiency_high")  # fmt: skip
                below = (line[y] - line[low]).clip(lower=0).fillna(0)
                above = (line[high] - line[y]).clip(lower=0).fillna(0)
                ax.errorbar(line["workers"], line[y], yerr=[below, above], color=color,
                            linestyle=style, marker="o", capsize=3)  # fmt: skip
            single = line[line["workers"] == 1]
            if not single.empty:  # the flat ideal: the 1-worker time at every count
                time_ax.axhline(float(single["wall_median_s"].iloc[0]), color=color,
                                linestyle=":", linewidth=1, alpha=0.7)  # fmt: skip
        efficiency_ax.plot(workers, [min(w, cores) / w for w in workers], color="black",
                           linestyle="--", linewidth=1.5)  # fmt: skip
        for ax in (time_ax, efficiency_ax):
            _workers_axis(ax, workers, cores)
            ax.set_xlabel("workers (images = workers x images per worker)")
        time_ax.set_title(f"{workload}: wall time", fontsize=10)
        time_ax.set_ylabel("seconds" if j == 0 else "")
        time_ax.set_ylim(bottom=0)
        efficiency_ax.set_title(f"{workload}: weak efficiency T(1)/T(w)", fontsize=10)
        efficiency_ax.set_ylabel("1.0 = flat (ideal)" if j == 0 else "")
        efficiency_ax.set_ylim(bottom=0)
    handles = [
        Line2D([], [], color=PALETTE.get(method, "black"), linestyle=style, marker="o",
               label=label)
        for label, (method, style) in labels.items()
    ]  # fmt: skip
    handles.append(
        Line2D(
            [],
            [],
            color="black",
            linestyle="--",
            label=f"ideal efficiency: min(workers, {cores} cores) / workers",
        )
    )
    handles.append(
        Line2D([], [], color="grey", linestyle=":", label="ideal time: the 1-worker time")
    )
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(f"Weak scaling ({INTERVAL_NOTE}; efficiency: 95% Welch interval)")
    return fig


def efficiency_figure(frame: pd.DataFrame, cores: int) -> Figure | None:
    """Parallel efficiency (speedup / min(workers, cores)) per method and worker count."""
    picked = _largest_batch(frame, "efficiency", without_sync=True)
    if picked is None:
        return None
    rows, count = picked
    workloads = list(dict.fromkeys(rows["workload"]))
    methods = _hue_order(rows)
    workers = sorted(rows["workers"].unique())
    fig, axes = _grid(1, len(workloads), width=5.2, height=3.8)
    anomalous = False
    for j, workload in enumerate(workloads):
        ax = axes[0][j]
        cell = rows[rows["workload"] == workload]
        for method in methods:
            line = cell[cell["method"] == method]
            if not line.empty:
                _errorbar(ax, line, "efficiency", "efficiency_low", "efficiency_high", method)
        anomalous |= _mark_anomalies(ax, cell, "efficiency")
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        _workers_axis(ax, workers, cores)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{workload}, {count} images", fontsize=10)
        ax.set_xlabel("workers")
        ax.set_ylabel("speedup / ideal" if j == 0 else "")
    fig.suptitle(
        f"Parallel efficiency: speedup / min(workers, {cores} cores, what the batch allows)\n"
        f"(1.0 = every usable core fully used; {PAIRED_NOTE})"
    )
    _legend(fig, methods, [_anomaly_handle()] if anomalous else None)
    return fig


def memory_figure(frame: pd.DataFrame, cores: int) -> Figure | None:
    """Peak RSS of the whole process tree per method and worker count."""
    picked = _largest_batch(frame, "peak_rss_mb")
    if picked is None:
        return None
    rows, count = picked
    workloads = list(dict.fromkeys(rows["workload"]))
    methods = _hue_order(rows)
    fig, axes = _grid(1, len(workloads), width=5.2, height=3.8)
    for j, workload in enumerate(workloads):
        ax = axes[0][j]
        sns.barplot(
            data=rows[rows["workload"] == workload], x="workers", y="peak_rss_mb", hue="method",
            hue_order=methods, palette=PALETTE, ax=ax, legend=False,
        )  # fmt: skip
        ax.set_title(f"{workload}, {count} images", fontsize=10)
        ax.set_ylabel("peak memory, process tree (MiB)" if j == 0 else "")
    kind = (
        str(rows["memory_kind"].dropna().iloc[0]).upper()
        if rows["memory_kind"].notna().any()
        else "RSS"
    )
    fig.suptitle(f"Peak memory ({kind} of the process and all its children, over all rounds)")
    _legend(fig, methods)
    return fig


def cpu_figure(frame: pd.DataFrame, cores: int) -> Figure | None:
    """CPU utilisation of the process tree (100% = one core) against workers."""
    picked = _largest_batch(frame, "cpu_percent")
    if picked is None:
        return None
    rows, count = picked
    workloads = list(dict.fromkeys(rows["workload"]))
    workers = sorted(rows["workers"].unique())
    methods = _hue_order(rows)
    fig, axes = _grid(1, len(workloads), width=5.2, height=3.8)
    for j, workload in enumerate(workloads):
        ax = axes[0][j]
        cell = rows[rows["workload"] == workload]
        for method in methods:
            line = cell[cell["method"] == method]
            ax.plot(line["workers"], line["cpu_percent"], marker="o", color=PALETTE.get(method))
        ax.axhline(100 * cores, color="black", linestyle="--", linewidth=1)
        ax.text(workers[0], 100 * cores, f"all {cores} cores busy", va="bottom", fontsize=8)
        _workers_axis(ax, workers, cores)
        ax.set_ylim(0, max(100 * cores, float(cell["cpu_percent"].max())) * 1.15)
        ax.set_title(f"{workload}, {count} images", fontsize=10)
        ax.set_xlabel("workers")
        ax.set_ylabel("CPU utilisation (%, 100 = one core)" if j == 0 else "")
    fig.suptitle("CPU utilisation of the whole process tree")
    _legend(fig, methods)
    return fig


def build_cost_figure(frame: pd.DataFrame, cores: int) -> Figure | None:
    """sync on the default build vs on the free-threaded build, per workload and image count."""
    table = build_cost_frame(frame)
    if table.empty:
        return None
    long = pd.concat(
        [
            table.assign(build=table["default_build"] + " (default)", seconds=table["default_s"]),
            table.assign(
                build=table["free_threaded_build"] + " (free-threaded)",
                seconds=table["free_threaded_s"],
            ),
        ]
    )
    workloads = list(dict.fromkeys(table["workload"]))
    fig, axes = _grid(1, len(workloads), width=5.2, height=3.8)
    for j, workload in enumerate(workloads):
        ax = axes[0][j]
        sns.barplot(
            data=long[long["workload"] == workload], x="images", y="seconds", hue="build", ax=ax,
            palette=["#8c564b", "#2ca02c"],
        )  # fmt: skip
        for _, row in table[table["workload"] == workload].reset_index().iterrows():
            ax.annotate(
                f"{row['cost']:+.0%}", (row.name, max(row["default_s"], row["free_threaded_s"])),
                ha="center", va="bottom", fontsize=9,
            )  # fmt: skip
        ax.set_title(workload, fontsize=10)
        ax.set_ylabel("sync wall time, median (s)" if j == 0 else "")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Single-thread cost of the free-threaded build (sync; label: change vs default)")
    return fig


FIGURES = {
    "wall_time": wall_time_figure,
    "speedup": speedup_figure,
    "efficiency": efficiency_figure,
    "memory": memory_figure,
    "cpu": cpu_figure,
    "build_cost": build_cost_figure,
}


def save_figure(fig: Figure, name: str, directory: Path = FIGURES_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def repeats_figure(repeats: pd.DataFrame, title: str) -> Figure | None:
    """One cell's timed repeats as bars (from `data.repeats_frame`)."""
    if repeats.empty:
        return None
    fig, axes = _grid(1, 1, width=6.0, height=3.4)
    ax = axes[0][0]
    sns.barplot(data=repeats, x="repeat", y="wall_s", hue="interpreter", ax=ax)
    ax.set_title(f"{title}: each timed repeat", fontsize=10)
    ax.set_xlabel("repeat")
    ax.set_ylabel("wall time (s)")
    return fig

"""Hosts side by side: the same cells measured on different machines.

Sweeps are grouped by the host they ran on (CPU model, core counts, memory, as recorded with
each sweep); sweeps from one host are several runs, not several hosts, and are compared cell
by cell elsewhere (data.comparison_frame). Speedups are each host's own, paired by round
against its own sync, with their intervals from the store (nogilbench.results.stats).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from nogilbench.report.data import SweepData, main_rows, method_label, ok_rows

HOST_KEYS = ("cpu_model", "physical_cores", "logical_cores", "usable_cores", "memory_total_bytes")
LINE_STYLES = ("-", "--", ":", "-.")


def host_name(host: dict[str, Any]) -> str:
    cores = host.get("usable_cores") or host.get("logical_cores")
    return f"{host.get('cpu_model') or 'unknown CPU'}, {cores} usable cores"


def host_identity(sweep: SweepData) -> tuple[Any, ...]:
    host = sweep.sweep.host or {}
    return tuple(host.get(key) for key in HOST_KEYS)


def by_host(sweeps: Sequence[SweepData]) -> list[SweepData]:
    """The first (strong-scaling) sweep of each distinct host, in the given order."""
    chosen: dict[tuple[Any, ...], SweepData] = {}
    for sweep in sweeps:
        if sweep.scaling == "strong":
            chosen.setdefault(host_identity(sweep), sweep)
    return list(chosen.values())


def hosts_frame(sweeps: Sequence[SweepData]) -> pd.DataFrame:
    """Per host: each method's speedup (same build) at every worker count of the largest
    image count the hosts share, with its interval and the host's usable cores."""
    frames = []
    for sweep in by_host(sweeps):
        rows = ok_rows(main_rows(sweep.frame()))
        rows = rows[rows["method"] != "sync"].copy()
        rows["host"] = host_name(sweep.sweep.host or {})
        rows["host_cores"] = sweep.cores
        frames.append(rows)
    if len(frames) < 2:
        return pd.DataFrame()
    shared = set.intersection(*(set(frame["images"]) for frame in frames))
    if not shared:
        return pd.DataFrame()
    images = max(shared)
    table = pd.concat(frames, ignore_index=True)
    table = table[table["images"] == images]
    table["label"] = [
        method_label(method, interpreter)
        for method, interpreter in zip(table["method"], table["interpreter"], strict=True)
    ]
    return table[[
        "host", "host_cores", "sweep", "workload", "label", "method", "workers", "images",
        "speedup", "speedup_low", "speedup_high", "efficiency", "anomaly", "oversubscribed",
    ]].reset_index(drop=True)  # fmt: skip


def hosts_table(table: pd.DataFrame) -> pd.DataFrame:
    """Each host's cells at its own core count (or the most workers it measured within it):
    speedup with interval, "(anomaly)" where it lies above the physical limit."""
    if table.empty:
        return table
    within = table[table["workers"] <= table["host_cores"]]
    widest = within.groupby("host")["workers"].transform("max")
    at_cores = within[within["workers"] == widest]
    shown = at_cores.assign(
        speedup_text=[
            f"{row.speedup:.2f}x [{row.speedup_low:.2f}, {row.speedup_high:.2f}] at "
            f"{row.workers} workers"
            + (" (anomaly)" if isinstance(row.anomaly, str) and row.anomaly else "")
            for row in at_cores.itertuples()
        ]
    )
    return shown.pivot_table(
        index=["workload", "label"], columns="host", values="speedup_text", aggfunc="first"
    ).fillna("— (not measured)")


def hosts_figure(table: pd.DataFrame) -> Figure | None:
    """Speedup vs workers, one colour per host, one line style per method; each host's
    usable cores marked by a vertical line in its colour."""
    if table.empty:
        return None
    workloads = list(dict.fromkeys(table["workload"]))
    hosts = list(dict.fromkeys(table["host"]))
    methods = list(dict.fromkeys(table["method"]))
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(
        1, len(workloads), figsize=(5.6 * len(workloads), 4.6), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for j, workload in enumerate(workloads):
        ax = axes[0][j]
        for h, host in enumerate(hosts):
            rows = table[(table["workload"] == workload) & (table["host"] == host)]
            for m, method in enumerate(methods):
                line = rows[rows["method"] == method].sort_values("workers")
                if line.empty:
                    continue
                below = (line["speedup"] - line["speedup_low"]).clip(lower=0).fillna(0)
                above = (line["speedup_high"] - line["speedup"]).clip(lower=0).fillna(0)
                ax.errorbar(line["workers"], line["speedup"], yerr=[below, above],
                            color=colours(h), linestyle=LINE_STYLES[m % len(LINE_STYLES)],
                            marker="o", capsize=3)  # fmt: skip
            cores = int(rows["host_cores"].iloc[0]) if not rows.empty else None
            if cores:
                ax.axvline(cores, color=colours(h), linestyle=":", linewidth=1.2)
                ax.text(cores, 1.0, f" {cores} cores", color=colours(h), fontsize=8,
                        transform=ax.get_xaxis_transform(), va="top")  # fmt: skip
        workers = sorted(table[table["workload"] == workload]["workers"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(workers, [str(w) for w in workers])
        ax.minorticks_off()
        ax.axhline(1.0, color="grey", linewidth=1)
        ax.set_title(f"{workload}, {int(table['images'].iloc[0])} images", fontsize=10)
        ax.set_xlabel("workers")
        ax.set_ylabel("speedup vs sync, same host and build" if j == 0 else "")
    handles = [Line2D([], [], color=colours(h), label=host) for h, host in enumerate(hosts)]
    handles += [
        Line2D([], [], color="black", linestyle=LINE_STYLES[m % len(LINE_STYLES)],
               label=method_label(method))
        for m, method in enumerate(methods)
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle("Hosts side by side: speedup vs workers (bars: 95% intervals; dotted: cores)")
    return fig


def hosts_summary(sweeps: Sequence[SweepData]) -> list[str]:
    """Which sweeps were taken as which host, and which were left out (same host)."""
    chosen = by_host(sweeps)
    lines = [f"{sweep.name}: {host_name(sweep.sweep.host or {})}" for sweep in chosen]
    left = [sweep.name for sweep in sweeps if sweep not in chosen]
    if left:
        lines.append(
            f"not drawn here (same host as a sweep above, or weak scaling): {', '.join(left)}; "
            "runs on one host are compared cell by cell under 'Sweeps compared'"
        )
    return lines

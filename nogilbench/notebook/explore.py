"""Helpers for `notebooks/explore.ipynb`: the sweeps in a store, one cell's timed values with
an interval, two sweeps overlaid, and the ipywidgets panels that redraw them in JupyterLab.

The notebook holds parameters and calls; everything it shows is computed here. Figures are
drawn on an opaque white background with dark text, so they read the same in JupyterLab's
light and dark themes (a transparent figure would put black labels on a dark page).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sqlalchemy import func
from sqlmodel import Session, select

from nogilbench.errors import InvalidParameter
from nogilbench.report.data import (
    cell_rows,
    load_sweeps,
    main_interpreter_of,
    method_label,
    ok_rows,
    resolve_database_url,
)
from nogilbench.report.figures import PALETTE
from nogilbench.results import stats
from nogilbench.results.tables import method_order
from nogilbench.store import repository
from nogilbench.store.db import database_url as store_url
from nogilbench.store.db import safe_url
from nogilbench.store.models import Result

CONFIDENCE = 0.95
SWEEP_LINESTYLES = ("-", "--")  # first sweep solid, second dashed (distinguishable in grey too)
FIGURE_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": "#222222",
    "axes.labelcolor": "#222222",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
    "axes.grid": True,
    "grid.color": "#dddddd",
}


# --------------------------------------------------------------------------- the store


def sweeps_frame(database_url: str | None) -> pd.DataFrame:
    """One row per stored sweep, oldest first: name, status, start, cells stored / planned."""
    engine = repository.open_store(resolve_database_url(database_url))
    try:
        with Session(engine) as session:
            counts = dict(
                session.exec(select(Result.sweep_id, func.count()).group_by(Result.sweep_id)).all()
            )
            rows = [
                {
                    "sweep": sweep.name,
                    "status": sweep.status,
                    "started (UTC)": f"{sweep.created_at:%Y-%m-%d %H:%M}",
                    "cells": f"{counts.get(sweep.id, 0)}/{sweep.cell_count}",
                    "workloads": ", ".join(sweep.parameters.get("workloads", [])),
                    "CPU": (sweep.host or {}).get("cpu_model"),
                }
                for sweep in repository.list_sweeps(session)
            ]
    finally:
        engine.dispose()
    columns = ["sweep", "status", "started (UTC)", "cells", "workloads", "CPU"]
    return pd.DataFrame(rows, columns=columns)


def newest_sweep(stored: pd.DataFrame, database_url: str | None) -> str:
    """The newest sweep of a `sweeps_frame` table; one clear error when the store has none
    (a fresh clone before `make report`)."""
    if stored.empty:
        where = safe_url(store_url(resolve_database_url(database_url)))
        raise InvalidParameter(
            f"no sweep stored in {where} yet: run `make report` (the default sweep), or set "
            "database_url to a store that has one"
        )
    return str(stored["sweep"].iloc[-1])


def other_sweep(names: Sequence[str], chosen: str, wanted: str | None = None) -> str | None:
    """The sweep to overlay on `chosen`: `wanted` if given, else the newest other one."""
    if wanted:
        if wanted not in names:
            raise InvalidParameter(f"no sweep named {wanted!r} in this database")
        return wanted
    others = [name for name in names if name != chosen]
    return others[-1] if others else None


def load_frame(database_url: str | None, sweep: str) -> pd.DataFrame:
    """The results frame (`data.results_frame`) of one stored sweep."""
    return load_sweeps(database_url, [sweep])[0].frame()


def wall_time_pivot(frame: pd.DataFrame, workload: str, images: int | None = None) -> pd.DataFrame:
    """Median wall time (s): one row per method (and build), one column per worker count,
    at `images` (default: the largest batch) for `workload`, cells that ran only."""
    rows = ok_rows(frame[frame["workload"] == workload])
    if rows.empty:
        return pd.DataFrame()
    count = images if images is not None else int(rows["images"].max())
    rows = rows[rows["images"] == count].copy()
    main = rows["interpreter"].value_counts().idxmax() if not rows.empty else None
    rows["method"] = [
        method_label(m, i, main) for m, i in zip(rows["method"], rows["interpreter"], strict=True)
    ]
    rows["_order"] = [method_order(m.split(" ")[0]) for m in rows["method"]]
    table = rows.sort_values("_order").pivot_table(
        index="method", columns="workers", values="wall_median_s", sort=False
    )
    table.columns.name = f"workers ({count} images)"
    return table


# --------------------------------------------------------------------------- one cell


@dataclass(frozen=True)
class CellValues:
    """One stored cell: its timed values (one per repeat) and the median's interval."""

    workload: str
    method: str
    workers: int
    images: int
    interpreter: str
    values: tuple[float, ...]
    median: float | None
    interval: stats.Interval | None  # nogilbench.results.stats.median_interval of the rounds

    @property
    def title(self) -> str:
        return (
            f"{self.workload} / {method_label(self.method)} / {self.workers} workers / "
            f"{self.images} images [{self.interpreter}]"
        )

    def summary(self) -> str:
        """One sentence: n values, median, interval (or why there is none)."""
        if self.median is None:
            return f"{self.title}: no timed values stored."
        text = f"{self.title}: {len(self.values)} timed values, median {self.median:.3f} s"
        if self.interval is None:
            return text + "; one value gives no interval (run the sweep with more rounds)."
        interval = self.interval
        return text + (
            f", {interval.confidence:.0%} interval {interval.low:.3f}–{interval.high:.3f} s "
            f"({interval.method})."
        )

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"round": range(1, len(self.values) + 1), "wall time (s)": list(self.values)}
        )


def cell_values(
    frame: pd.DataFrame,
    workload: str,
    method: str,
    workers: int,
    images: int,
    interpreter: str | None = None,
) -> CellValues:
    """The cell's `wall_times_s` (the stored timed values) with the median's interval.

    `interpreter` defaults to the one that ran the whole matrix (several builds may hold
    the same cell, e.g. `sync` on the default build).
    """
    picked = cell_rows(frame, workload, method, workers, images, interpreter)
    if interpreter is None and not picked.empty:
        main = main_interpreter_of(frame)
        if (picked["interpreter"] == main).any():
            picked = picked[picked["interpreter"] == main]
    if picked.empty:
        raise InvalidParameter(
            f"no cell {workload} / {method} / {workers} workers / {images} images in this sweep"
        )
    row = picked.iloc[0]
    values = tuple(float(v) for v in (row["wall_times_s"] or []))
    interval = stats.median_interval(values) if len(values) >= 2 else None
    median = interval.estimate if interval else (values[0] if values else None)
    return CellValues(
        workload, method, workers, images, str(row["interpreter"]), values, median, interval
    )


def cell_figure(cell: CellValues) -> Figure | None:
    """Every timed value as a dot, the median as a line, the interval as a band."""
    if not cell.values:
        return None
    with plt.rc_context(FIGURE_STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 2.6), layout="constrained")
        color = PALETTE.get(cell.method, "#333333")
        y = np.zeros(len(cell.values))
        ax.scatter(cell.values, y, s=60, color=color, zorder=3, label="timed values")
        handles: list[Any] = [
            Line2D([], [], linestyle="none", marker="o", color=color, label="each timed value")
        ]
        if cell.median is not None:
            ax.axvline(cell.median, color="#222222", linewidth=2)
            handles.append(Line2D([], [], color="#222222", linewidth=2, label="median"))
        if cell.interval is not None:
            ax.axvspan(cell.interval.low, cell.interval.high, color=color, alpha=0.2)
            label = f"{cell.interval.confidence:.0%} interval of the median"
            handles.append(plt.Rectangle((0, 0), 1, 1, color=color, alpha=0.2, label=label))
        ax.set_yticks([])
        ax.set_xlabel("wall time of one timed pass (s)")
        ax.set_title(cell.title, fontsize=10)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3,
                  frameon=False, fontsize=8)  # fmt: skip
    return fig


# --------------------------------------------------------------------------- two sweeps


def overlay_figure(
    frames: Sequence[tuple[str, pd.DataFrame]], workload: str, images: int | None = None
) -> Figure | None:
    """Median wall time vs workers per method, one line style per sweep, same axes.

    `images` defaults to the largest batch both sweeps measured for `workload`.
    """
    chosen = []
    for name, frame in frames:
        rows = ok_rows(frame[frame["workload"] == workload])
        if not rows.empty:
            main = rows["interpreter"].value_counts().idxmax()
            chosen.append((name, rows[rows["interpreter"] == main]))
    if not chosen:
        return None
    if images is None:
        shared = set.intersection(*(set(rows["images"]) for _, rows in chosen))
        if not shared:
            return None
        images = int(max(shared))
    methods = sorted({m for _, rows in chosen for m in rows["method"]}, key=method_order)
    with plt.rc_context(FIGURE_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
        workers: set[int] = set()
        for (_name, rows), style in zip(chosen, SWEEP_LINESTYLES, strict=False):
            batch = rows[rows["images"] == images]
            for method in methods:
                line = batch[batch["method"] == method].sort_values("workers")
                if line.empty:
                    continue
                workers |= set(int(w) for w in line["workers"])
                ax.plot(
                    line["workers"], line["wall_median_s"], linestyle=style, marker="o",
                    color=PALETTE.get(method, "#333333"),
                )  # fmt: skip
        if not workers:
            plt.close(fig)
            return None
        ticks = sorted(workers)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(w) for w in ticks])
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.set_xlabel("workers")
        ax.set_ylabel("wall time, median (s)")
        ax.set_title(f"{workload}, {images} images: " + " vs ".join(n for n, _ in chosen))
        handles = [
            Line2D([], [], color=PALETTE.get(m, "#333333"), marker="o", label=method_label(m))
            for m in methods
        ] + [
            Line2D([], [], color="#222222", linestyle=style, label=f"sweep {name}")
            for (name, _), style in zip(chosen, SWEEP_LINESTYLES, strict=False)
        ]
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


# --------------------------------------------------------------------------- widgets


def _show(fig: Figure | None, missing: str) -> None:
    from IPython.display import Markdown, display

    if fig is None:
        display(Markdown(f"_{missing}_"))
        return
    display(fig)
    plt.close(fig)


def show_cell(cell: CellValues) -> None:
    """The cell's sentence, its values as a table and its figure (notebook display)."""
    from IPython.display import Markdown, display

    display(Markdown(cell.summary()))
    display(cell.table().style.format({"wall time (s)": "{:.4f}"}).hide(axis="index"))
    _show(cell_figure(cell), "No timed values stored for this cell.")


def show_overlay(frames: Sequence[tuple[str, pd.DataFrame]], workload: str) -> None:
    _show(overlay_figure(frames, workload), f"The sweeps share no {workload} cells to overlay.")


def show_sweeps_overlay(
    database_url: str | None,
    names: Sequence[str],
    first: str,
    frame: pd.DataFrame,
    workload: str,
    wanted: str | None = None,
) -> None:
    """`first` (already loaded as `frame`) overlaid with `wanted` or the newest other sweep;
    a store with a single sweep says so."""
    from IPython.display import Markdown, display

    other = other_sweep(names, first, wanted)
    if other is None:
        display(Markdown(f"_This store holds only sweep {first}: run another one to overlay._"))
        return
    show_overlay([(first, frame), (other, load_frame(database_url, other))], workload)


def _redraw(output: Any, draw: Callable[[], None]) -> None:
    """Run `draw` inside `output` (an ipywidgets.Output); a bad selection prints one line."""
    output.clear_output(wait=True)
    with output:
        try:
            draw()
        except InvalidParameter as exc:
            print(exc)


def cell_picker(frame: pd.DataFrame, **defaults: Any) -> Any:
    """Dropdowns (workload, method, workers, images) that redraw one cell's timed values.

    In JupyterLab the panel redraws on every change; run headless (papermill, nbval) it is
    built and drawn once with the defaults, and nothing waits for input.
    """
    import ipywidgets as widgets

    rows = frame[frame["status"] == "ok"]
    if rows.empty:
        return widgets.HTML("<i>No cell of this sweep ran.</i>")
    options = {
        "workload": list(dict.fromkeys(rows["workload"])),
        "method": sorted(set(rows["method"]), key=method_order),
        "workers": sorted(int(w) for w in set(rows["workers"])),
        "images": sorted(int(n) for n in set(rows["images"])),
    }
    controls = {
        name: widgets.Dropdown(
            options=values,
            value=defaults.get(name) if defaults.get(name) in values else values[0],
            description=name,
        )
        for name, values in options.items()
    }
    output = widgets.Output()

    def draw(_change: Any = None) -> None:
        chosen = {name: control.value for name, control in controls.items()}
        _redraw(output, lambda: show_cell(cell_values(frame, **chosen)))

    for control in controls.values():
        control.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox(list(controls.values())), output])


def overlay_picker(
    database_url: str | None, names: Sequence[str], first: str, workload: str | None = None
) -> Any:
    """Two sweep dropdowns and a workload dropdown that redraw the overlay."""
    import ipywidgets as widgets

    if len(names) < 2:
        return widgets.HTML("<i>This store holds one sweep: run another to compare.</i>")
    frames: dict[str, pd.DataFrame] = {}

    def frame_of(name: str) -> pd.DataFrame:
        if name not in frames:  # each sweep is read from the store once
            frames[name] = load_frame(database_url, name)
        return frames[name]

    sweep_a = widgets.Dropdown(options=list(names), value=first, description="sweep")
    sweep_b = widgets.Dropdown(
        options=list(names), value=other_sweep(names, first), description="vs"
    )
    workloads = sorted(set(frame_of(first)["workload"]))
    workload_control = widgets.Dropdown(
        options=workloads,
        value=workload if workload in workloads else workloads[0],
        description="workload",
    )
    output = widgets.Output()

    def draw(_change: Any = None) -> None:
        pair = [(name, frame_of(name)) for name in dict.fromkeys([sweep_a.value, sweep_b.value])]
        _redraw(output, lambda: show_overlay(pair, workload_control.value))

    for control in (sweep_a, sweep_b, workload_control):
        control.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([sweep_a, sweep_b, workload_control]), output])

"""The race demo (`nogilbench.sweep.race.race_demo`) as frames, sentences and a figure for
`notebooks/race_condition.ipynb`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from nogilbench.host.interpreters import (
    InterpreterInfo,
    InterpreterUnavailable,
    current,
    find_free_threaded,
)

VARIANT_LABELS = {
    "unsafe": "shared counter, no lock",
    "locked": "with lock",
    "per-thread": "per-thread counters merged",
}


def race_interpreter() -> tuple[InterpreterInfo, str | None]:
    """The free-threaded interpreter, else this one with the reason (GIL-on trials only)."""
    try:
        return find_free_threaded(), None
    except InterpreterUnavailable as exc:
        return current(), f"free-threaded interpreter unavailable ({exc.reason}); GIL build only"


def gil_mode(row: dict[str, Any] | pd.Series) -> str:
    observed = row["gil_enabled"]
    return "GIL on" if observed else "GIL off"


def race_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["gil"] = frame.apply(gil_mode, axis=1)
    frame["variant_label"] = frame["variant"].map(VARIANT_LABELS)
    frame["lost_percent"] = 100 * frame["lost"] / frame["expected"]
    return frame


def safe_variant_lines(frame: pd.DataFrame) -> list[str]:
    """'GIL off, with lock: 0 lost' per GIL mode and safe variant (deterministic: always 0)."""
    lines = []
    for gil, group in frame.groupby("gil", sort=True):
        for variant in ("locked", "per-thread"):
            lost = int(group[group["variant"] == variant]["lost"].sum())
            lines.append(f"{gil}, {VARIANT_LABELS[variant]}: {lost} lost")
    return lines


def race_summary(frame: pd.DataFrame) -> pd.DataFrame:
    return (
        frame.groupby(["gil", "variant_label"], sort=False)
        .agg(trials=("trial", "count"), lost_min=("lost", "min"), lost_max=("lost", "max"),
             lost_mean_percent=("lost_percent", "mean"), seconds_mean=("seconds", "mean"))
        .reset_index()
    )  # fmt: skip


def race_conclusions(frame: pd.DataFrame) -> list[str]:
    """What the trials showed, computed from them."""
    lines = []
    unsafe = frame[frame["variant"] == "unsafe"]
    for gil, group in unsafe.groupby("gil", sort=True):
        lost_trials = int((group["lost"] > 0).sum())
        lines.append(
            f"{gil}: the unlocked shared counter lost updates in {lost_trials} of {len(group)} "
            f"trials (up to {int(group['lost'].max()):,} of {int(group['expected'].iloc[0]):,} "
            f"increments, {group['lost_percent'].max():.1f}%)."
        )
    safe = frame[frame["variant"] != "unsafe"]
    if not safe.empty:
        total = int(safe["lost"].sum())
        lines.append(
            f"The lock and the per-thread counters lost {total} updates in all {len(safe)} trials."
        )
    modes = set(unsafe["gil"])
    if {"GIL on", "GIL off"} <= modes:
        on = unsafe[unsafe["gil"] == "GIL on"]["lost"].sum()
        off = unsafe[unsafe["gil"] == "GIL off"]["lost"].sum()
        if off > 0 and on == 0:
            lines.append(
                "The same unsafe code lost nothing with the GIL on and lost updates with it off: "
                "the GIL hid the race."
            )
        locked = frame[(frame["variant"] == "locked")].groupby("gil")["seconds"].mean()
        unlocked = unsafe.groupby("gil")["seconds"].mean()
        if "GIL off" in locked and "GIL off" in unlocked and unlocked["GIL off"] > 0:
            price = locked["GIL off"] / unlocked["GIL off"]
            lines.append(
                f"The lock's price with the GIL off: {price:.1f}x the time of the unlocked loop."
            )
    return lines


def race_figure(frame: pd.DataFrame) -> Figure:
    grid = sns.catplot(
        data=frame, x="variant_label", y="lost", hue="gil", kind="strip", dodge=True, size=8,
        height=3.8, aspect=1.8, palette={"GIL off": "#2ca02c", "GIL on": "#d62728"},
    )  # fmt: skip
    grid.set_axis_labels("", "lost updates per trial")
    grid.figure.suptitle("Lost updates per trial: one point per trial", y=1.03)
    return grid.figure

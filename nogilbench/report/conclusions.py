"""Conclusions computed from the measurements: every number and every claim comes from the
data, so another machine (other cores, other interpreter) gets other, still true, sentences.

Each function takes the results frame of one sweep (`data.results_frame`) and returns
Markdown sentences; an empty list means the data holds nothing to say on that point.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from nogilbench.analysis import UNSTABLE_SPREAD, method_order
from nogilbench.report.data import headline_workers, main_rows, method_label, ok_rows

TIE = 0.05  # two timings within 5% of each other are reported as a tie
GAIN = 0.10  # a speedup below 1.10x is "no real gain"


def _label(method: str) -> str:
    return method_label(method)


def _workers(count: int) -> str:
    return f"{count} worker" if int(count) == 1 else f"{count} workers"


def _cell(
    frame: pd.DataFrame, workload: str, method: str, workers: int, images: int
) -> pd.Series | None:
    rows = ok_rows(main_rows(frame))
    found = rows[
        (rows["workload"] == workload)
        & (rows["method"] == method)
        & (rows["workers"] == workers)
        & (rows["images"] == images)
    ]
    return None if found.empty else found.iloc[0]


def _caveat(*cells: pd.Series) -> str:
    if any(bool(cell["unstable"]) for cell in cells):
        return f" (an unstable cell: repeats differed by more than {UNSTABLE_SPREAD:.0%})"
    return ""


def _workloads(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(main_rows(frame)["workload"]))


def _point(frame: pd.DataFrame, workload: str, cores: int) -> tuple[int, int] | None:
    """(headline workers, largest image count) of one workload, or None if nothing ran."""
    rows = main_rows(frame)
    rows = rows[rows["workload"] == workload]
    if rows.empty:
        return None
    return headline_workers(rows["workers"], cores), int(rows["images"].max())


def compare(
    frame: pd.DataFrame, workload: str, method: str, other: str, workers: int, images: int
) -> str | None:
    """'A was 1.85x faster than B on W at N workers (...)', or None if either did not run."""
    first = _cell(frame, workload, method, workers, images)
    second = _cell(frame, workload, other, workers, images)
    if first is None or second is None:
        return None
    ratio = second["wall_median_s"] / first["wall_median_s"]
    where = f"on {workload} at {_workers(workers)}"
    times = f"({images} images: {first['wall_median_s']:.2f} s vs {second['wall_median_s']:.2f} s)"
    if ratio >= 1 + TIE:
        verdict = f"was {ratio:.2f}x faster than"
    elif ratio <= 1 / (1 + TIE):
        verdict = f"was {1 / ratio:.2f}x slower than"
    else:
        verdict = f"was within {TIE:.0%} of"
    return f"{_label(method)} {verdict} {_label(other)} {where} {times}{_caveat(first, second)}."


def conclusions(frame: pd.DataFrame, cores: int) -> list[str]:
    """The findings of one sweep, per workload and across workloads."""
    lines: list[str] = []
    for workload in _workloads(frame):
        point = _point(frame, workload, cores)
        if point is None:
            continue
        workers, images = point
        lines += _fastest(frame, workload, workers, images)
        lines += _gil_effect(frame, workload, workers, images)
        for method, other in (("free-threaded", "multiprocessing"),):
            sentence = compare(frame, workload, method, other, workers, images)
            if sentence:
                lines.append(sentence)
        lines += _best_speedup(frame, workload, cores)
        lines += _past_the_cores(frame, workload, workers, images, cores)
        lines += _memory(frame, workload, images)
        lines += _cpu(frame, workload, workers, images, cores)
    lines += _across_workloads(frame, cores)
    lines += build_cost(frame)
    return lines


def _fastest(frame: pd.DataFrame, workload: str, workers: int, images: int) -> list[str]:
    rows = ok_rows(main_rows(frame))
    rows = rows[(rows["workload"] == workload) & (rows["workers"] == workers)]
    rows = rows[rows["images"] == images]
    if rows.empty:
        return []
    best = rows.loc[rows["wall_median_s"].idxmin()]
    speedup = ""
    if best["method"] != "sync" and pd.notna(best["speedup"]):
        speedup = f", {best['speedup']:.2f}x sync"
    return [
        f"**{workload}** ({images} images, {_workers(workers)}): the fastest method was "
        f"{_label(best['method'])} at {best['wall_median_s']:.2f} s{speedup}{_caveat(best)}."
    ]


def _gil_effect(frame: pd.DataFrame, workload: str, workers: int, images: int) -> list[str]:
    threads = _cell(frame, workload, "threading", workers, images)
    free = _cell(frame, workload, "free-threaded", workers, images)
    lines = []
    sentence = compare(frame, workload, "free-threaded", "threading", workers, images)
    if sentence:
        lines.append(sentence)
    if threads is None or pd.isna(threads["speedup"]):
        return lines
    thread_speedup = float(threads["speedup"])
    free_speedup = (
        float(free["speedup"]) if free is not None and pd.notna(free["speedup"]) else None
    )
    if thread_speedup < 1 + GAIN:
        if free_speedup is not None and free_speedup >= 1 + GAIN:
            lines.append(
                f"On {workload}, threads with the GIL reached only {thread_speedup:.2f}x sync "
                f"while the same threads with the GIL off reached {free_speedup:.2f}x: "
                "the GIL was the bottleneck."
            )
        else:
            lines.append(
                f"On {workload}, threads with the GIL reached {thread_speedup:.2f}x sync: "
                "no real gain from threading here."
            )
    else:
        extra = ""
        if free_speedup is not None:
            extra = f"; with the GIL off they reached {free_speedup:.2f}x"
        lines.append(
            f"On {workload}, threads with the GIL already reached {thread_speedup:.2f}x sync"
            f"{extra}: most of this work runs in code that releases the GIL."
        )
    return lines


def _best_speedup(frame: pd.DataFrame, workload: str, cores: int) -> list[str]:
    rows = ok_rows(main_rows(frame))
    rows = rows[(rows["workload"] == workload) & (rows["method"] != "sync")]
    rows = rows[rows["speedup"].notna()]
    if rows.empty:
        return []
    best = rows.loc[rows["speedup"].idxmax()]
    beyond = f", beyond the {cores} cores" if best["workers"] > cores else ""
    ideal = min(int(best["workers"]), cores)
    return [
        f"Best speedup on {workload}: {_label(best['method'])} reached {best['speedup']:.2f}x "
        f"sync at {_workers(best['workers'])} and {best['images']} images{beyond} "
        f"(ideal there: {ideal}x){_caveat(best)}."
    ]


def _past_the_cores(
    frame: pd.DataFrame, workload: str, workers: int, images: int, cores: int
) -> list[str]:
    rows = main_rows(frame)
    most = int(rows[rows["workload"] == workload]["workers"].max())
    if most <= workers or most <= cores:
        return []
    changes = []
    for method in ("free-threaded", "multiprocessing", "threading"):
        at_cores = _cell(frame, workload, method, workers, images)
        beyond = _cell(frame, workload, method, most, images)
        if at_cores is None or beyond is None:
            continue
        change = beyond["wall_median_s"] / at_cores["wall_median_s"] - 1
        changes.append(f"{_label(method)} {change:+.0%}")
    if not changes:
        return []
    return [
        f"On {workload}, going from {workers} to {most} workers (beyond the {cores} cores, "
        f"{images} images) changed the wall time by: {', '.join(changes)}."
    ]


def _memory(frame: pd.DataFrame, workload: str, images: int) -> list[str]:
    rows = main_rows(frame)
    most = int(rows[rows["workload"] == workload]["workers"].max())
    processes = _cell(frame, workload, "multiprocessing", most, images)
    threads = _cell(frame, workload, "free-threaded", most, images)
    if threads is None:
        threads = _cell(frame, workload, "threading", most, images)
    if processes is None or threads is None:
        return []
    if not processes["peak_rss_mb"] or not threads["peak_rss_mb"]:
        return []
    ratio = processes["peak_rss_mb"] / threads["peak_rss_mb"]
    return [
        f"Memory on {workload} ({most} workers, {images} images): multiprocessing peaked at "
        f"{processes['peak_rss_mb']:.0f} MB for the whole process tree vs "
        f"{threads['peak_rss_mb']:.0f} MB for {_label(threads['method'])} ({ratio:.1f}x)."
    ]


def _cpu(frame: pd.DataFrame, workload: str, workers: int, images: int, cores: int) -> list[str]:
    parts = []
    for method in ("sync", "threading", "multiprocessing", "free-threaded"):
        cell = _cell(frame, workload, method, workers, images)
        if cell is not None and pd.notna(cell["cpu_percent"]):
            parts.append(f"{_label(method)} {cell['cpu_percent']:.0f}%")
    if len(parts) < 2:
        return []
    return [
        f"CPU use on {workload} at {_workers(workers)}, {images} images (100% = one core, "
        f"{100 * cores}% = all {cores}): {', '.join(parts)}."
    ]


def _across_workloads(frame: pd.DataFrame, cores: int) -> list[str]:
    speedups = {}
    for workload in _workloads(frame):
        point = _point(frame, workload, cores)
        if point is None:
            continue
        cell = _cell(frame, workload, "threading", *point)
        if cell is not None and pd.notna(cell["speedup"]):
            speedups[workload] = (float(cell["speedup"]), point[0])
    if len(speedups) < 2:
        return []
    ordered = sorted(speedups.items(), key=lambda item: -item[1][0])
    listed = ", ".join(f"{s:.2f}x on {w} ({_workers(n)})" for w, (s, n) in ordered)
    line = f"Threads with the GIL reached {listed}."
    (top, (top_speedup, _)), (low, (low_speedup, workers)) = ordered[0], ordered[-1]
    images = _point(frame, low, cores)
    free = _cell(frame, low, "free-threaded", workers, images[1]) if images else None
    freed = free is not None and pd.notna(free["speedup"])
    # The GIL is named as the cause only when removing it helped the workload it slowed.
    if top_speedup - low_speedup >= GAIN and freed and free["speedup"] >= low_speedup + GAIN:
        line += (
            f" The GIL costs {low} more than {top}: {top} spends its time where the GIL is "
            f"released (C code), while the GIL serialises the Python bytecode of {low}."
        )
    return [line]


def build_cost_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """sync on the free-threaded build vs sync on the default build, where both were timed.

    Rows whose interpreter label has no trailing 't' ran `sync` on the default (GIL) build.
    The free-threaded side is the median of its sync replicates (sync ignores `workers`).
    """
    rows = ok_rows(frame)
    rows = rows[rows["method"] == "sync"]
    default = rows[rows["build"] == "default"]
    free = (
        rows[rows["build"] == "free-threaded"]
        .groupby(["workload", "images", "interpreter"], as_index=False)["wall_median_s"]
        .median()
    )
    if default.empty or free.empty:
        return pd.DataFrame(
            columns=["workload", "images", "default_s", "free_threaded_s", "cost", "default_build"]
        )
    merged = default.merge(free, on=["workload", "images"], suffixes=("_default", "_ft"))
    table = pd.DataFrame(
        {
            "workload": merged["workload"],
            "images": merged["images"],
            "default_s": merged["wall_median_s_default"],
            "free_threaded_s": merged["wall_median_s_ft"],
            "cost": merged["wall_median_s_ft"] / merged["wall_median_s_default"] - 1,
            "default_build": merged["interpreter_default"],
            "free_threaded_build": merged["interpreter_ft"],
        }
    )
    return table.sort_values(["workload", "images"]).reset_index(drop=True)


def build_cost(frame: pd.DataFrame) -> list[str]:
    """The single-thread cost of the free-threaded build, per workload (largest image count)."""
    table = build_cost_frame(frame)
    lines = []
    for workload, rows in table.groupby("workload", sort=False):
        row = rows.loc[rows["images"].idxmax()]
        cost = row["cost"]
        if abs(cost) < TIE:
            verdict = f"within {TIE:.0%} of"
        else:
            verdict = f"{abs(cost):.0%} {'slower' if cost > 0 else 'faster'} than"
        lines.append(
            f"Single-thread cost of the free-threaded build on {workload}: sync on "
            f"{row['free_threaded_build']} was {verdict} sync on the default build "
            f"{row['default_build']} ({row['images']} images: {row['free_threaded_s']:.2f} s vs "
            f"{row['default_s']:.2f} s)."
        )
    return lines


def which_model_when(frame: pd.DataFrame, cores: int) -> list[str]:
    """A short guide: which model to pick for each workload, from this machine's numbers."""
    lines = []
    for workload in _workloads(frame):
        point = _point(frame, workload, cores)
        if point is None:
            continue
        workers, images = point
        rows = ok_rows(main_rows(frame))
        at = rows[(rows["workload"] == workload) & (rows["images"] == images)]
        at = at[at["workers"] == workers].sort_values("wall_median_s")
        if at.empty:
            continue
        best = at.iloc[0]
        line = f"**{workload}**, {images}-image batches on {cores} cores: use "
        if best["method"] == "sync":
            line += "sync: no concurrency model beat it"
        elif pd.isna(best["speedup"]) or best["speedup"] < 1 + GAIN:
            shown = "" if pd.isna(best["speedup"]) else f", {best['speedup']:.2f}x"
            line += (
                f"sync: no concurrency model beat it by {GAIN:.0%} or more (best: "
                f"{_label(best['method'])} with {_workers(workers)}{shown})"
            )
            lines.append(line + ".")
            lines += _small_batches(frame, workload, workers)
            continue
        else:
            line += f"{_label(best['method'])} with {_workers(workers)}"
            if pd.notna(best["speedup"]):
                line += f" ({best['speedup']:.2f}x sync)"
        close = [
            f"{_label(r['method'])} ({r['wall_median_s'] / best['wall_median_s'] - 1:+.0%})"
            for _, r in at.iloc[1:].iterrows()
            if r["wall_median_s"] <= best["wall_median_s"] * (1 + GAIN)
        ]
        if close:
            line += f"; within {GAIN:.0%}: {', '.join(close)}"
        if best["method"] == "free-threaded":
            fallback = at[at["method"].isin(["threading", "multiprocessing"])]
            if not fallback.empty:
                alt = fallback.iloc[0]
                line += (
                    f". Without a free-threaded build, {_label(alt['method'])} is next "
                    f"({alt['wall_median_s'] / best['wall_median_s']:.2f}x its time)"
                )
        lines.append(line + ".")
        lines += _small_batches(frame, workload, workers)
    if not lines:
        return lines
    speedups = ok_rows(main_rows(frame))
    speedups = speedups[speedups["workers"] > cores]
    if not speedups.empty:
        lines.append(
            f"More workers than the {cores} cores never helps CPU-bound work here: set workers "
            f"to the core count ({cores})."
            if _never_helps(frame, cores)
            else f"Workers beyond the {cores} cores helped in some cells; see the speedup plot."
        )
    return lines


def _small_batches(frame: pd.DataFrame, workload: str, workers: int) -> list[str]:
    rows = ok_rows(main_rows(frame))
    rows = rows[(rows["workload"] == workload) & (rows["workers"] == workers)]
    if rows.empty or rows["images"].nunique() < 2:
        return []
    smallest = int(rows["images"].min())
    small = rows[(rows["images"] == smallest) & (rows["method"] != "sync")]
    small = small[small["speedup"].notna()]
    if small.empty:
        return []
    best = small.loc[small["speedup"].idxmax()]
    if best["speedup"] >= 1 + GAIN:
        return [
            f"Even at {smallest} images on {workload}, {_label(best['method'])} paid off "
            f"({best['speedup']:.2f}x sync)."
        ]
    return [
        f"At {smallest} images on {workload} nothing beat sync by {GAIN:.0%} or more (best: "
        f"{_label(best['method'])} {best['speedup']:.2f}x): for small batches, stay sequential."
    ]


def _never_helps(frame: pd.DataFrame, cores: int) -> bool:
    """True if, for every method/workload/images, the best time is at <= cores workers."""
    rows = ok_rows(main_rows(frame))
    rows = rows[rows["method"] != "sync"]
    for _, group in rows.groupby(["workload", "method", "images"]):
        best = group.loc[group["wall_median_s"].idxmin()]
        within = group[group["workers"] <= cores]["wall_median_s"]
        if best["workers"] > cores and (
            within.empty or best["wall_median_s"] < within.min() / (1 + TIE)
        ):
            return False
    return True


def oversubscription_notes(frame: pd.DataFrame, cores: int) -> list[str]:
    rows = main_rows(frame)
    over = rows[rows["oversubscribed"].fillna(False).astype(bool)]
    if over.empty:
        return []
    counts = sorted(int(w) for w in over["workers"].unique())
    shown = " and ".join(str(c) for c in counts)
    measured = ok_rows(over)
    line = (
        f"Cells with {shown} workers exceed the {cores} usable cores (oversubscribed): the extra "
        "threads or processes take turns on the same cores, so their speedup cannot exceed "
        f"{cores}x; they measure the cost of oversubscription, not more parallelism."
    )
    if not measured.empty and measured["speedup"].notna().any():
        top = measured.loc[measured["speedup"].idxmax()]
        line += (
            f" The highest speedup among them was {top['speedup']:.2f}x "
            f"({_label(top['method'])}, {top['workload']}, {_workers(top['workers'])})."
        )
    return [line]


def unavailable_notes(frame: pd.DataFrame) -> list[str]:
    """Cells that did not run (unavailable) or failed (error), grouped by reason."""
    problems = frame[frame["status"] != "ok"]
    lines = []
    keys = ["status", "method", "interpreter", "error"]
    for (status, method, interpreter, error), group in problems.fillna({"error": "?"}).groupby(
        keys, sort=False
    ):
        lines.append(f"{_label(method)} on {interpreter}: {len(group)} cell(s) {status}: {error}")
    return sorted(lines, key=lambda line: method_order(line.split(" ")[0]))


def contention_notes(frame: pd.DataFrame, threshold: float = 90.0) -> list[str]:
    """A warning when single-threaded cells got well under one core: the host was busy."""
    rows = ok_rows(frame)
    sync = rows[(rows["method"] == "sync") & rows["cpu_percent"].notna()]
    starved = sync[sync["cpu_percent"] < threshold]
    if starved.empty:
        return []
    median, lowest = sync["cpu_percent"].median(), starved["cpu_percent"].min()
    return [
        f"{len(starved)} of {len(sync)} sync cells used less than {threshold:.0f}% of one core "
        f"(median {median:.0f}%, lowest {lowest:.0f}%): "
        "other processes competed for the CPU during this sweep, so its timings are noisy; "
        "re-run it on an idle machine before trusting small differences."
    ]


def unstable_notes(frame: pd.DataFrame) -> list[str]:
    rows = frame[frame["unstable"].fillna(False).astype(bool)]
    lines = []
    for _, row in rows.iterrows():
        lines.append(
            f"{row['workload']} / {_label(row['method'])} / {_workers(row['workers'])} / "
            f"{row['images']} images on {row['interpreter']}: repeats ranged "
            f"{row['wall_min_s']:.3f}–{row['wall_max_s']:.3f} s "
            f"(spread {row['spread']:.0%} of the median)"
        )
    return lines


def as_markdown(lines: Iterable[str], empty: str = "Nothing to note.") -> str:
    items = [f"- {line}" for line in lines]
    return "\n".join(items) if items else f"_{empty}_"

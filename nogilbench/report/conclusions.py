"""Conclusions computed from the measurements, each one a contrast with its interval.

Every comparison is a ratio between two cells of one group, paired by round
(`nogilbench.results.stats`), and a winner is named only when its 95% interval says the
difference is
real; otherwise the sentence says the two are indistinguishable on this machine and gives
both. A speedup above the physical limit is an anomaly: listed as such, never a finding.

Each function takes the results frame of one sweep (`data.results_frame`) and returns
Markdown sentences; an empty list means the data holds nothing to say on that point.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from nogilbench.report.data import (
    cell_rows,
    headline_workers,
    main_interpreter_of,
    main_rows,
    method_label,
    ok_rows,
)
from nogilbench.results import stats
from nogilbench.results.tables import UNSTABLE_HALF_WIDTH, method_order

MEMORY_TIE = 0.10  # peak memory is one maximum per cell: within 10% is "about the same"
# An interval reaching past these bounds cannot tell "no difference" from "a large one".
RESOLVED = (1 / 1.2, 1.2)


def resolved(interval: stats.Interval) -> bool:
    """True when the interval is narrow enough to say "no real difference" (within ±20%)."""
    return RESOLVED[0] <= interval.low and interval.high <= RESOLVED[1]


def _workers(count: int) -> str:
    return f"{count} worker" if int(count) == 1 else f"{count} workers"


def _name(cell: pd.Series, main: str | None) -> str:
    return method_label(cell["method"], cell["interpreter"], main)


def _main(frame: pd.DataFrame) -> str | None:
    return main_interpreter_of(frame)


def _default_build(frame: pd.DataFrame) -> str | None:
    rows = frame[(frame["build"] == "default") & (frame["interpreter"] != _main(frame))]
    return None if rows.empty else str(rows["interpreter"].iloc[0])


def _cell(
    frame: pd.DataFrame,
    workload: str,
    method: str,
    workers: int,
    images: int,
    interpreter: str | None = None,
) -> pd.Series | None:
    """One measured cell (main interpreter unless named); sync is found at any worker count."""
    found = cell_rows(
        ok_rows(frame), workload, method, workers, images, interpreter or _main(frame)
    )
    return None if found.empty else found.sort_values("workers").iloc[0]


def _rounds(cell: pd.Series) -> dict[int, float]:
    return stats.rounds_of(cell["wall_times_s"] or [], cell.get("wall_rounds"))


def ratio(faster: pd.Series, slower: pd.Series) -> stats.Interval | None:
    """time(slower) / time(faster), paired by round: > 1 means `faster` really is faster."""
    return stats.ratio_between(_rounds(slower), _rounds(faster))


def _times(*cells: pd.Series) -> str:
    return " vs ".join(_wall(cell) for cell in cells)


def _wall(cell: pd.Series) -> str:
    return _interval_text(cell["wall_median_s"], cell["wall_low_s"], cell["wall_high_s"], " s")


def _interval_text(value: float, low: float | None, high: float | None, unit: str) -> str:
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return f"{value:.2f}{unit}"
    return f"{value:.2f}{unit} [{low:.2f}, {high:.2f}]"


def _speedup(cell: pd.Series) -> str:
    if pd.isna(cell.get("speedup")):
        return "no sync baseline"
    return _interval_text(cell["speedup"], cell["speedup_low"], cell["speedup_high"], "x")


def _anomalous(cell: pd.Series) -> bool:
    return isinstance(cell.get("anomaly"), str) and bool(cell["anomaly"])


def compare(
    frame: pd.DataFrame, first: pd.Series | None, second: pd.Series | None, where: str
) -> str | None:
    """'A was 1.85x [1.7, 2.0] faster than B ...' only when significant; else indistinguishable."""
    if first is None or second is None:
        return None
    interval = ratio(first, second)
    if interval is None:
        return None
    main = _main(frame)
    a, b = _name(first, main), _name(second, main)
    result = stats.verdict(interval)
    if result.verdict == "faster":
        verdict = f"{a} was {interval.text('x')} faster than {b}"
    elif result.verdict == "slower":
        verdict = f"{a} was {interval.inverted().text('x')} slower than {b}"
    else:
        verdict = (
            f"{a} and {b} were indistinguishable here (time ratio {interval.text('x')}, "
            "an interval that includes 1 or a difference under 2%)"
        )
    return f"{verdict} {where} ({_times(first, second)})."


def _point(frame: pd.DataFrame, workload: str, cores: int) -> tuple[int, int] | None:
    """(headline workers, largest image count) of one workload, or None if nothing ran."""
    rows = main_rows(frame)
    rows = rows[(rows["workload"] == workload) & (rows["method"] != "sync")]
    if rows.empty:
        return None
    return headline_workers(rows["workers"], cores), int(rows["images"].max())


def _methods(frame: pd.DataFrame, workload: str, *, without_sync: bool = False) -> list[str]:
    """The methods measured on `workload` (asyncio and subinterpreters included), in order."""
    found = set(frame.loc[frame["workload"] == workload, "method"])
    if without_sync:
        found.discard("sync")
    return sorted(found, key=method_order)


def _workloads(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(main_rows(frame)["workload"]))


def _candidates(frame: pd.DataFrame, workload: str, workers: int, images: int) -> pd.DataFrame:
    """Every measured, plausible cell at the headline point: every method, both builds."""
    rows = ok_rows(frame)
    rows = rows[(rows["workload"] == workload) & (rows["images"] == images)]
    rows = rows[(rows["workers"] == workers) | (rows["method"] == "sync")]
    rows = rows[~rows["anomaly"].fillna("").astype(bool)]
    return rows.sort_values("wall_median_s")


def leaders(frame: pd.DataFrame, workload: str, workers: int, images: int) -> list[pd.Series]:
    """The fastest cell and every cell indistinguishable from it (paired by round)."""
    rows = _candidates(frame, workload, workers, images)
    if rows.empty:
        return []
    best = rows.iloc[0]
    tied = [best]
    for _, other in rows.iloc[1:].iterrows():
        interval = ratio(best, other)
        if interval is None or not stats.verdict(interval).significant:
            tied.append(other)
    return tied


def conclusions(frame: pd.DataFrame, cores: int) -> list[str]:
    """The findings of one sweep, per workload and across workloads."""
    lines: list[str] = []
    for workload in _workloads(frame):
        point = _point(frame, workload, cores)
        if point is None:
            continue
        workers, images = point
        where = f"on {workload} at {_workers(workers)}, {images} images"
        lines += _fastest(frame, workload, workers, images)
        lines += _gil_effect(frame, workload, workers, images)
        ft = _cell(frame, workload, "free-threaded", workers, images)
        default = _default_build(frame)
        rivals = []
        for method in ("multiprocessing", "subinterpreters", "asyncio"):
            rivals.append(_cell(frame, workload, method, workers, images))
            if default is not None:  # the same model on the CPython of today
                rivals.append(_cell(frame, workload, method, workers, images, default))
        lines += filter(None, (compare(frame, ft, rival, where) for rival in rivals))
        lines += _best_speedup(frame, workload, cores)
        lines += _past_the_cores(frame, workload, workers, images, cores)
        lines += _memory(frame, workload, images)
        lines += _cpu(frame, workload, workers, images, cores)
    lines += build_cost(frame)
    return lines


def _fastest(frame: pd.DataFrame, workload: str, workers: int, images: int) -> list[str]:
    tied = leaders(frame, workload, workers, images)
    if not tied:
        return []
    main = _main(frame)
    best = tied[0]
    head = f"**{workload}** ({images} images, {_workers(workers)}):"
    if len(tied) == 1:
        return [
            f"{head} the fastest was {_name(best, main)} at {_wall(best)}, {_speedup(best)} "
            "sync, faster than every other method with 95% confidence."
        ]
    names = ", ".join(f"{_name(cell, main)} ({_wall(cell)})" for cell in tied)
    return [f"{head} no single winner: {names} were indistinguishable from the fastest here."]


def _gil_effect(frame: pd.DataFrame, workload: str, workers: int, images: int) -> list[str]:
    """Threads with the GIL vs the same threads without it: the data's own contrast."""
    threads = _cell(frame, workload, "threading", workers, images)
    free = _cell(frame, workload, "free-threaded", workers, images)
    if threads is None or free is None:
        return []
    interval = ratio(free, threads)
    if interval is None:
        return []
    cpu = f"CPU {threads['cpu_percent']:.0f}% vs {free['cpu_percent']:.0f}% of one core"
    both = (
        f"threads with the GIL reached {_speedup(threads)} sync, the same threads with it off "
        f"{_speedup(free)} ({cpu})"
    )
    result = stats.verdict(interval)
    if result.verdict == "faster":
        return [
            f"On {workload}, {both}: removing the GIL made the threads {interval.text('x')} "
            "faster, so the GIL serialised this work."
        ]
    if result.verdict == "slower":
        return [
            f"On {workload}, {both}: the threads were slower without the GIL (time ratio "
            f"{interval.text('x')}), the free-threaded build's own cost outweighed any gain."
        ]
    if not resolved(interval):
        return [
            f"On {workload}, {both}: this run cannot tell whether the GIL limited the threads "
            f"(time ratio {interval.text('x')}: too wide to rule out a large difference either "
            "way; more rounds or a quieter host would resolve it)."
        ]
    return [
        f"On {workload}, {both}: with and without the GIL the threads were indistinguishable "
        f"(time ratio {interval.text('x')}), so the GIL was not what limited them: this work "
        "runs where the GIL is released, or is limited by something else."
    ]


def _best_speedup(frame: pd.DataFrame, workload: str, cores: int) -> list[str]:
    rows = ok_rows(main_rows(frame))
    rows = rows[(rows["workload"] == workload) & (rows["method"] != "sync")]
    rows = rows[rows["speedup_low"].notna()]
    lines = []
    anomalies = rows[rows["anomaly"].fillna("").astype(bool)]
    for _, cell in anomalies.iterrows():
        lines.append(
            f"Anomaly on {workload}: {method_label(cell['method'])} at {_workers(cell['workers'])}"
            f", {cell['images']} images: {cell['anomaly']}."
        )
    plausible = rows[~rows["anomaly"].fillna("").astype(bool)]
    if plausible.empty:
        return lines
    # The best speedup that is surely above 1: ranked by the lower end of its interval.
    best = plausible.loc[plausible["speedup_low"].idxmax()]
    if best["speedup_low"] <= 1.0:
        return [
            *lines,
            f"On {workload}, no method was surely faster than sync at any worker count.",
        ]
    # Cells whose interval reaches the best one's lower end cannot be told apart from it:
    # naming one of them "best" would be a winner on noise (it changes from run to run).
    # (Other worker counts of the same method do not make the method's lead uncertain.)
    tied = plausible[
        (
            (plausible["method"] != best["method"])
            | (plausible["interpreter"] != best["interpreter"])
        )
        & (plausible["speedup_low"] > 1.0)
        & (plausible["speedup_high"] >= best["speedup_low"])
    ].sort_values("speedup_low", ascending=False)
    tied = tied.drop_duplicates(["method", "interpreter"])
    if not tied.empty:
        shown = [best, *[cell for _, cell in tied.head(3).iterrows()]]
        more = f" and {len(tied) - 3} more" if len(tied) > 3 else ""
        return [
            *lines,
            f"Highest sure speedups on {workload}, with overlapping intervals (no single best "
            "here): "
            + "; ".join(
                f"{method_label(cell['method'], cell['interpreter'])} {_speedup(cell)} at "
                f"{_workers(cell['workers'])}"
                f", {cell['images']} images (ideal {cell['ideal_speedup']:g}x)"
                for cell in shown
            )
            + f"{more}.",
        ]
    beyond = f", beyond the {cores} cores" if best["workers"] > cores else ""
    if best["speedup"] > best["ideal_speedup"]:
        beyond += (
            f"; its estimate is above the {best['ideal_speedup']:g}x limit, so part of it is "
            "noise in the baseline"
        )
    return [
        *lines,
        f"Best sure speedup on {workload}: {method_label(best['method'])} reached "
        f"{_speedup(best)} sync at {_workers(best['workers'])} and {best['images']} images"
        f"{beyond} (ideal there: {best['ideal_speedup']:g}x, efficiency "
        f"{_interval_text(best['efficiency'], best['efficiency_low'], best['efficiency_high'], '')}).",  # noqa: E501
    ]


def _past_the_cores(
    frame: pd.DataFrame, workload: str, workers: int, images: int, cores: int
) -> list[str]:
    rows = main_rows(frame)
    most = int(rows[rows["workload"] == workload]["workers"].max())
    if most <= workers or most <= cores:
        return []
    changes = []
    for method in _methods(frame, workload, without_sync=True):
        at_cores = _cell(frame, workload, method, workers, images)
        beyond = _cell(frame, workload, method, most, images)
        if at_cores is None or beyond is None:
            continue
        interval = ratio(at_cores, beyond)  # time(beyond) / time(at the cores)
        if interval is None:
            continue
        result = stats.verdict(interval)
        word = {"faster": "slower", "slower": "faster"}.get(result.verdict, "no different")
        changes.append(f"{method_label(method)} {word} (time ratio {interval.text('x')})")
    if not changes:
        return []
    return [
        f"On {workload}, {most} workers instead of {workers} (beyond the {cores} cores, "
        f"{images} images): {'; '.join(changes)}."
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
    share = processes["peak_rss_mb"] / threads["peak_rss_mb"]
    kind = (processes.get("memory_kind") or "rss").upper()
    verdict = (
        f"about the same as ({share:.2f}x)" if abs(share - 1) < MEMORY_TIE else f"{share:.1f}x"
    )
    return [
        f"Memory on {workload} ({most} workers, {images} images), peak {kind} of the whole "
        f"process tree over all rounds: multiprocessing {processes['peak_rss_mb']:.0f} MB, "
        f"{verdict} {method_label(threads['method'])}'s {threads['peak_rss_mb']:.0f} MB."
    ]


def _cpu(frame: pd.DataFrame, workload: str, workers: int, images: int, cores: int) -> list[str]:
    parts = []
    for method in _methods(frame, workload):
        cell = _cell(frame, workload, method, workers, images)
        if cell is not None and pd.notna(cell["cpu_percent"]):
            resolution = cell.get("cpu_resolution")
            plus = f" ±{resolution:.0f}" if pd.notna(resolution) else ""
            parts.append(f"{method_label(method)} {cell['cpu_percent']:.0f}%{plus}")
    if len(parts) < 2:
        return []
    return [
        f"CPU use on {workload} at {_workers(workers)}, {images} images (CPU time of the process "
        f"tree over wall time, all rounds; 100% = one core, {100 * cores}% = all {cores}; ± is "
        f"the clock-tick resolution): {', '.join(parts)}."
    ]


def build_cost_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """sync on the free-threaded build vs sync on the default build, paired by round."""
    columns = ["workload", "images", "default_s", "free_threaded_s", "cost", "cost_low",
               "cost_high", "default_build", "free_threaded_build"]  # fmt: skip
    default = _default_build(frame)
    main = _main(frame)
    rows = []
    if default is not None and main is not None and main != default:
        sync = ok_rows(frame)
        sync = sync[sync["method"] == "sync"]
        for (workload, images), group in sync.groupby(["workload", "images"], sort=True):
            ft = group[group["interpreter"] == main]
            gil = group[group["interpreter"] == default]
            if ft.empty or gil.empty:
                continue
            interval = ratio(gil.iloc[0], ft.iloc[0])  # time(ft) / time(default)
            if interval is None:
                continue
            rows.append({
                "workload": workload, "images": images,
                "default_s": gil.iloc[0]["wall_median_s"],
                "free_threaded_s": ft.iloc[0]["wall_median_s"],
                "cost": interval.estimate - 1, "cost_low": interval.low - 1,
                "cost_high": interval.high - 1, "default_build": default,
                "free_threaded_build": main,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def build_cost(frame: pd.DataFrame) -> list[str]:
    """The single-thread cost of the free-threaded build, per workload (largest image count)."""
    table = build_cost_frame(frame)
    lines = []
    for workload, rows in table.groupby("workload", sort=False):
        row = rows.loc[rows["images"].idxmax()]
        span = f"{row['cost']:+.0%} [{row['cost_low']:+.0%}, {row['cost_high']:+.0%}]"
        sure = row["cost_low"] > 0 or row["cost_high"] < 0
        verdict = (
            ("slower than" if row["cost"] > 0 else "faster than")
            if sure and abs(row["cost"]) >= 0.02
            else "indistinguishable from"
        )  # fmt: skip
        lines.append(
            f"Single-thread cost of the free-threaded build on {workload}: sync on "
            f"{row['free_threaded_build']} was {verdict} sync on the default build "
            f"{row['default_build']}: time {span} ({row['images']} images: "
            f"{row['free_threaded_s']:.2f} s vs {row['default_s']:.2f} s)."
        )
    return lines


def _gain_over_sync(frame: pd.DataFrame, cell: pd.Series | None) -> stats.Interval | None:
    """time(sync) / time(cell) on the cell's own build, paired by round."""
    if cell is None:
        return None
    sync = _cell(frame, cell["workload"], "sync", 1, cell["images"], cell["interpreter"])
    return None if sync is None else ratio(cell, sync)


def which_model_when(frame: pd.DataFrame, cores: int) -> list[str]:
    """A short guide: which model to pick for each workload, only as sure as the data."""
    lines = []
    main = _main(frame)
    default = _default_build(frame)
    for workload in _workloads(frame):
        point = _point(frame, workload, cores)
        if point is None:
            continue
        workers, images = point
        tied = leaders(frame, workload, workers, images)
        if not tied:
            continue
        head = f"**{workload}**, {images}-image batches on {cores} cores:"
        names = [_name(cell, main) for cell in tied]
        if any(cell["method"] == "sync" for cell in tied):
            fastest = next((cell for cell in tied if cell["method"] != "sync"), None)
            gain = _gain_over_sync(frame, fastest)
            if fastest is None or gain is None or gain.high <= RESOLVED[1]:
                lines.append(
                    f"{head} stay sequential: no concurrency model was surely faster than sync "
                    f"({', '.join(names)} indistinguishable)."
                )
            else:
                lines.append(
                    f"{head} this run cannot tell the models apart: {', '.join(names)} were "
                    f"indistinguishable from the fastest, and the intervals are too wide to "
                    f"rule out large gains (fastest: {_name(fastest, main)}, {_speedup(fastest)}"
                    " sync). Re-run with more rounds (--max-rounds, --budget) or on a quieter "
                    "host before choosing."
                )
            continue
        best = tied[0]
        if len(tied) == 1:
            line = (
                f"{head} use {names[0]} with {_workers(workers)} ({_speedup(best)} sync); "
                "it beat every other model here with 95% confidence"
            )
        else:
            line = (
                f"{head} use any of {', '.join(names)} with {_workers(workers)}: they were "
                f"indistinguishable here (fastest: {_wall(best)}, {_speedup(best)} sync)"
            )
        if default is not None:
            today = leaders(frame[frame["interpreter"] == default], workload, workers, images)
            today = [cell for cell in today if cell["method"] != "sync"] or today
            if today:
                line += (
                    f". On the default build people run today: "
                    f"{' or '.join(method_label(c['method']) for c in today)}"
                )
        lines.append(line + ".")
    if lines:
        over = ok_rows(main_rows(frame))
        if (over["workers"] > cores).any():
            lines.append(
                f"Workers beyond the {cores} usable cores oversubscribe them: set workers to the "
                f"core count ({cores}) for CPU-bound work unless the speedup plot shows otherwise."
            )
    return lines


def oversubscription_notes(frame: pd.DataFrame, cores: int) -> list[str]:
    rows = main_rows(frame)
    over = rows[rows["oversubscribed"].fillna(False).astype(bool)]
    if over.empty:
        return []
    counts = sorted(int(w) for w in over["workers"].unique())
    shown = " and ".join(str(c) for c in counts)
    return [
        f"Cells with {shown} workers exceed the {cores} usable cores (oversubscribed): the extra "
        "threads or processes take turns on the same cores, so their speedup cannot exceed "
        f"{cores}x; they measure the cost of oversubscription, not more parallelism."
    ]


def unavailable_notes(frame: pd.DataFrame) -> list[str]:
    """Cells that did not run (unavailable) or failed (error), grouped by reason."""
    problems = frame[frame["status"] != "ok"]
    lines = []
    keys = ["status", "method", "interpreter", "error"]
    for (status, method, interpreter, error), group in problems.fillna({"error": "?"}).groupby(
        keys, sort=False
    ):
        lines.append(
            f"{method_label(method)} on {interpreter}: {len(group)} cell(s) {status}: {error}"
        )
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
        f"(median {median:.0f}%, lowest {lowest:.0f}%): other processes competed for the CPU "
        "during this sweep; the intervals are wider for it, and only differences they resolve "
        "are stated."
    ]


def measurement_quality(measurements: list[dict], cores: int) -> list[str]:
    """How the rounds went and what the host was doing around them (load, steal, clock)."""
    rows = pd.DataFrame(measurements)
    if rows.empty or "round" not in rows:
        return []
    measured = rows[rows["status"] == "ok"]
    lines = []
    groups = rows.groupby(["workload", "images"])["round"].max() + 1
    lines.append(
        f"{len(rows)} measurements, each one round of one cell in a fresh process, in "
        f"{len(groups)} groups (workload x image count) of {int(groups.min())}"
        + (f" to {int(groups.max())}" if groups.max() != groups.min() else "")
        + " rounds; cells of a round ran in a seeded shuffled order stored with the sweep."
    )
    load = measured["load_1m"].dropna() if "load_1m" in measured else pd.Series(dtype=float)
    if not load.empty:
        most = int(measured["workers"].max()) if "workers" in measured else cores
        lines.append(
            f"Host load (1-minute average) as rounds started: median {load.median():.1f}, "
            f"max {load.max():.1f}, on {cores} usable cores. It counts this sweep's own "
            f"cells too (up to {most} workers each), so it alone "
            "cannot show other work; the sync cells' CPU share (a warning below when under "
            "90% of a core) does."
        )
    steal = measured["steal_percent"].dropna() if "steal_percent" in measured else pd.Series()
    if not steal.empty and steal.max() > 0:
        lines.append(
            f"CPU steal (time the hypervisor gave to other machines): median "
            f"{steal.median():.1f}%, max {steal.max():.1f}% of the host's CPU time."
        )
    mhz = measured["cpu_mhz"].dropna() if "cpu_mhz" in measured else pd.Series(dtype=float)
    if not mhz.empty:
        lines.append(f"CPU clock as read by the OS: {mhz.min():.0f} to {mhz.max():.0f} MHz.")
    else:
        lines.append("CPU clock: not exposed by this OS or VM (no cpufreq), not recorded.")
    cost = measured["sampler_cpu_percent"].dropna() if "sampler_cpu_percent" in measured else None
    if cost is not None and not cost.empty:
        lines.append(
            f"The memory sampler (outside the measured process) cost a median {cost.median():.2f}%"
            f" of one core (max {cost.max():.2f}%) while cells ran."
        )
    startup = measured["startup_ms"].dropna() if "startup_ms" in measured else None
    if startup is not None and not startup.empty:
        lines.append(
            f"Start-up of a cell (interpreter, imports, pool, warm-up; outside the timing): "
            f"median {startup.median():.0f} ms, max {startup.max():.0f} ms."
        )
    return lines


def unstable_notes(frame: pd.DataFrame) -> list[str]:
    rows = frame[frame["unstable"].fillna(False).astype(bool)]
    lines = []
    for _, row in rows.iterrows():
        level = row.get("wall_confidence")
        shown = f"{level:.0%}" if pd.notna(level) else "?"
        lines.append(
            f"{row['workload']} / {method_label(row['method'])} / {_workers(row['workers'])} / "
            f"{row['images']} images on {row['interpreter']}: {_wall(row)} ({shown} interval over "
            f"{row['repeats']} rounds, wider than ±{UNSTABLE_HALF_WIDTH:.0%})"
        )
    return lines


def as_markdown(lines: Iterable[str], empty: str = "Nothing to note.") -> str:
    items = [f"- {line}" for line in lines]
    return "\n".join(items) if items else f"_{empty}_"

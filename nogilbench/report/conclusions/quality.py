"""How the measurement went: rounds and where they were spent, measurements taken again,
what the host was doing, what this run left undecided and what would decide it; and the notes
on oversubscribed, missing and imprecise cells."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

from nogilbench.model import cell_key
from nogilbench.report.conclusions.common import questions_of, rounds_of, wall_text, workers_text
from nogilbench.report.data import main_rows, method_label, ok_rows
from nogilbench.results.budget import rounds_to_decide
from nogilbench.results.decisions import (
    EQUIVALENCE_MARGIN,
    FAMILY_ERROR,
    TIER_MARGIN,
    paired_moments,
)
from nogilbench.results.questions import LEADERS, PAST_CORES, Question, settled
from nogilbench.results.tables import UNSTABLE_HALF_WIDTH, method_order


def measurement_quality(sweep: Any) -> list[str]:
    """A sweep's measurement notes (`report.data.SweepData`): design, then host."""
    return design_notes(sweep) + host_notes(sweep.measurements, sweep.cores)


def _pairs(question: Question, rounds: dict) -> list[tuple[Any, Any]]:
    """The comparisons that decide a question (leaders: the observed fastest vs the others)."""
    if question.kind == PAST_CORES and question.beyond:
        return [(question.cells[name], question.beyond[name]) for name in question.cells]
    if question.kind == LEADERS:
        keys = [key for key in question.cells.values() if key in rounds]
        if len(keys) < 2:
            return []
        best = min(keys, key=lambda key: sum(rounds[key].values()) / len(rounds[key]))
        return [(best, key) for key in keys if key != best]
    return [tuple(question.cells.values())]  # type: ignore[list-item]


def _more_time(question: Question, rounds: dict, measurements: list[dict[str, Any]]) -> str:
    """'about 8 more rounds, about 4 minutes' for an open question, from its own spread."""
    pairs = _pairs(question, rounds)
    # the leading tier turns on the tier margin; every other question on the 5% margin
    margin = TIER_MARGIN if question.kind == LEADERS else EQUIVALENCE_MARGIN
    needed = []
    for first, second in pairs:
        if first not in rounds or second not in rounds:
            return "its cells have too few rounds to estimate"
        mean, se, count = paired_moments(rounds[first], rounds[second])
        if count < 2:
            return "too few rounds to estimate"
        need = rounds_to_decide(
            mean, se * math.sqrt(count), alpha=FAMILY_ERROR / len(pairs), margin=margin
        )
        if need is None:
            return f"a difference this close to the {margin:.0%} margin: more than 100 rounds"
        needed.append(max(need - count, 0))
    extra = max(needed, default=0)
    if extra == 0:
        return "decidable now; its rerun agreement is what is short"
    cells = question.all_cells
    per_round = sum(
        statistics.median(durations)
        for key in cells
        if (durations := [row["cell_wall_s"] for row in measurements if row.get("cell_wall_s")
                          and cell_key(row) == key])
    )  # fmt: skip
    unit = "round" if extra == 1 else "rounds"
    return f"about {extra} more {unit}, about {max(1, round(extra * per_round / 60))} min"


def _passes(rows: pd.DataFrame) -> int:
    """Rounds that measured only some cells of their group: the question passes."""
    ran = rows.groupby(["workload", "images", "round"]).size()
    full = ran.groupby(level=["workload", "images"]).transform("max")
    return int((ran < full).sum())


def design_notes(sweep: Any) -> list[str]:
    """Where the rounds went, what was measured again, and what stayed undecided."""
    measurements, frame, cores = sweep.measurements, sweep.frame(), sweep.cores
    host = sweep.sweep.host or {}
    rows = pd.DataFrame(measurements)
    if rows.empty or "round" not in rows:
        return []
    lines = []
    groups = rows.groupby(["workload", "images"])["round"].max() + 1
    per_cell = (
        rows[rows["status"] == "ok"]
        .groupby(["workload", "method", "workers", "images", "interpreter"])["round"]
        .nunique()
    )
    low = int(per_cell.min()) if not per_cell.empty else 0
    high = int(per_cell.max()) if not per_cell.empty else 0
    seed = (
        "a new seed per sweep, stored with it"
        if getattr(sweep.sweep, "order_seed", None) is not None
        else "the image seed: this sweep predates a seed of its own"
    )
    passes = _passes(rows)
    lines.append(
        f"{len(rows)} measurements, each one round of one cell in a fresh process, {low} to "
        f"{high} rounds per cell: every cell at least {int(groups.min())} times, each round in "
        f"a shuffled order ({seed})"
        + (
            f", then {passes} passes over only the cells of the report's questions, each "
            "pass followed by its mirror image so a drift of the host falls on both sides of "
            "every comparison alike."
            if passes
            else "; extra rounds went to whole groups."
        )
    )
    state = host.get("speed_state") or {}
    if state.get("samples"):
        lasting = (
            f"stayed correlated for about {state['timescale_s']:.1f} s"
            if state.get("timescale_s") is not None
            else "stayed correlated for more than half the probe"
        )
        lines.append(
            f"The host's speed, probed for {state.get('duration_s', 0):.0f} s before the first "
            f"round, varied by {state['sd_percent']:.1f}% (SD of 0.1 s samples) and {lasting}: "
            "measurements closer together than that share the host's state, which pairing by "
            "round cancels."
        )
    redone = [row for row in measurements if (row.get("details") or {}).get("remeasured")]
    if redone:
        reasons = Counter(
            str(row["details"]["remeasured"]["reason"]).split(" (")[0].split(":")[0]
            for row in redone
        )
        shown = "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(3))
        still = sum(1 for row in redone if row["details"]["remeasured"].get("still"))
        lines.append(
            f"{len(redone)} of {len(rows)} measurements were taken again at once because "
            f"their own evidence showed the machine was taken from them ({shown}); the less "
            f"disturbed of the two was kept" + (f", {still} still disturbed" if still else "") + "."
        )
    else:
        lines.append(
            "No measurement showed signs of the machine being taken from it (CPU steal "
            "over 5%, a single-threaded cell under 80% of a core, or a parallel cell that lost "
            "a core's worth of CPU while its time rose)."
        )
    rounds = rounds_of(frame)
    open_questions = [q for q in questions_of(frame, cores) if not settled(q, rounds)]
    if open_questions:
        names = "; ".join(
            f"{q.kind} on {q.workload} ({_more_time(q, rounds, measurements)})"
            for q in open_questions
        )
        lines.append(
            f"Left open by this run (a rerun would not give the same answer 9 times in 10): "
            f"{names}. The estimates are power calculations on this run's own per-round spread "
            "(`results.budget`): give them with --max-rounds and --budget, or a quieter host."
        )
    else:
        lines.append(
            "Every question of the conclusions is settled: a rerun on this host would give "
            "the same answer at least 9 times in 10 (estimated from this run's own noise)."
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


def host_notes(measurements: list[dict], cores: int) -> list[str]:
    """What the host was doing around the rounds (load, steal, clock, sampler, start-up)."""
    rows = pd.DataFrame(measurements)
    if rows.empty or "round" not in rows:
        return []
    measured = rows[rows["status"] == "ok"]
    lines = []
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
        lines.append(
            f"{row['workload']} / {method_label(row['method'])} / "
            f"{workers_text(row['workers'])} / {row['images']} images on {row['interpreter']}: "
            f"{wall_text(row)} over {row['repeats']} rounds, wider than "
            f"±{UNSTABLE_HALF_WIDTH:.0%}"
        )
    return lines


def as_markdown(lines: Iterable[str], empty: str = "Nothing to note.") -> str:
    items = [f"- {line}" for line in lines]
    return "\n".join(items) if items else f"_{empty}_"

"""The findings of one sweep, per workload: who was fastest, what the GIL cost, the
free-threaded threads against each rival, going past the cores, memory and CPU; and the
free-threaded build's own single-thread cost.

Who leads is the leading tier of `results.decisions.leader_set`: a configuration leaves it
only when another is surely faster by more than the tier margin (25%); the finer differences
inside it are stated at the 5% equivalence margin, on the same family's intervals.

Each comparison is a `results.decisions.Decision` of one family: the candidates at the
headline point share one set of intervals (comparisons with the best), the GIL effect and the
build cost are each a family over the workloads (Holm), going past the cores a family over the
methods (Holm). Every interval prints its level.
"""

from __future__ import annotations

import pandas as pd

from nogilbench.report.conclusions.common import (
    Rounds,
    default_build_of,
    geometric_time,
    main_of,
    name_of,
    questions_of,
    rounds_of,
    row_of,
    speedup_text,
    workers_text,
)
from nogilbench.report.data import method_label
from nogilbench.results.decisions import (
    CANNOT_TELL,
    EQUIVALENCE_MARGIN,
    EQUIVALENT,
    FASTER,
    NOT_SETTLED,
    SLOWER,
    Decision,
    LeaderSet,
    change_text,
    compare_family,
    interval_text,
    leader_set,
)
from nogilbench.results.questions import (
    GIL_EFFECT,
    LEADERS,
    PAST_CORES,
    Question,
)
from nogilbench.results.reproducibility import settle

MEMORY_TIE = 0.10  # peak memory is one maximum per cell: within 10% is "about the same"
RIVALS = ("multiprocessing", "subinterpreters", "asyncio")


def leaders_of(question: Question, rounds: dict) -> LeaderSet | None:
    """The LeaderSet of a LEADERS question, on the rounds its candidates share."""
    candidates = {name: rounds[key] for name, key in question.cells.items() if key in rounds}
    if len(candidates) < 2:
        return None
    try:
        return leader_set(candidates)
    except ValueError:  # fewer than one shared round
        return None


def flagged(frame: pd.DataFrame, question: Question, names: tuple) -> str:
    """' (X: flagged as a measurement anomaly, see below)' for flagged leaders, else ''."""
    main = main_of(frame)
    marked = []
    for name in names:
        cell = row_of(frame, question.cells[name])
        if cell is not None and isinstance(cell.get("anomaly"), str) and cell["anomaly"]:
            marked.append(name_of(name, main))
    if not marked:
        return ""
    return f" ({', '.join(marked)}: flagged as a measurement anomaly, see below)"


def anomalies(frame: pd.DataFrame, workload: str) -> list[str]:
    """Every flagged cell of a workload: shown, never removed from a comparison."""
    main = main_of(frame)
    rows = frame[(frame["workload"] == workload) & frame["anomaly"].fillna("").astype(bool)]
    return [
        f"Anomaly on {workload}: {method_label(row['method'], row['interpreter'], main)} at "
        f"{workers_text(row['workers'])}, {row['images']} images: {row['anomaly']}."
        for _, row in rows.iterrows()
    ]


def fastest(frame: pd.DataFrame, question: Question, found: LeaderSet) -> str:
    main = main_of(frame)
    head = f"**{question.workload}** ({question.images} images, {workers_text(question.workers)}):"
    times = ", ".join(f"{name_of(name, main)} {found.times[name]:.2f} s" for name in found.leaders)
    basis = (
        f"geometric means over the {found.rounds} rounds all {len(found.order)} configurations "
        f"share; every pair of them compared in one Holm family of {found.family}"
    )
    out = len(found.order) - len(found.leaders)
    rest = (
        f"every other configuration was surely slower than one of them, by more than "
        f"{found.tier:.0%}"
        if out
        else f"no configuration was surely more than {found.tier:.0%} behind another"
    )
    marks = flagged(frame, question, found.leaders)
    if found.winner is not None:
        best = found.winner
        cell = row_of(frame, question.cells[best])
        return (
            f"{head} the fastest was {name_of(best, main)} at {found.times[best]:.2f} s "
            f"({speedup_text(cell)} sync of its build): {rest} ({basis}){marks}."
        )
    inside = (
        f"they were within {EQUIVALENCE_MARGIN:.0%} of each other"
        if found.decided
        else f"none of them was surely more than {found.tier:.0%} behind another"
    )
    return f"{head} the leading tier was {times}: {rest}; {inside} ({basis}){marks}."


def _gil_sentence(workload: str, decision: Decision, threads, free) -> str:
    cpu = ""
    if threads is not None and free is not None and pd.notna(threads.get("cpu_percent")):
        cpu = f" (CPU {threads['cpu_percent']:.0f}% vs {free['cpu_percent']:.0f}% of one core)"
    both = (
        f"threads with the GIL reached {speedup_text(threads)} sync, the same threads without "
        f"it {speedup_text(free)}{cpu}"
    )
    ratio = interval_text(decision.ratio)
    if decision.verdict == NOT_SETTLED:
        leaning = decision.leaning("the threads without the GIL", "with it")
        return (
            f"On {workload}, {both}: this run leans to {leaning}, not settled: "
            f"{decision.rerun_text()}."
        )
    if decision.outcome == FASTER:
        return (
            f"On {workload}, {both}: removing the GIL made the threads {ratio} faster, so the "
            "GIL serialised this work."
        )
    if decision.outcome == SLOWER:
        return (
            f"On {workload}, {both}: the threads were {interval_text(decision.ratio.inverted())}"
            " slower without the GIL: the free-threaded mode's own cost outweighed any gain."
        )
    if decision.outcome == EQUIVALENT:
        return (
            f"On {workload}, {both}: with and without the GIL the threads were within "
            f"{decision.margin:.0%} of each other (time ratio {ratio}), so the GIL was not "
            "what limited them: this work runs where the GIL is released."
        )
    return (
        f"On {workload}, {both}: this run cannot tell whether the GIL limited the threads "
        f"(time ratio {ratio})."
    )


def gil_effects(frame: pd.DataFrame, asked: list[Question], rounds: dict) -> dict[str, str]:
    """workload -> its GIL sentence; one Holm family over the workloads."""
    pairs = {}
    for question in asked:
        if question.kind != GIL_EFFECT:
            continue
        main = main_of(frame)
        threads = question.cells.get(("threading", main or ""))
        free = question.cells.get(("free-threaded", main or ""))
        if threads in rounds and free in rounds:
            pairs[question.workload] = (rounds[free], rounds[threads], threads, free)
    if not pairs:
        return {}
    decided = compare_family({w: (a, b) for w, (a, b, _, _) in pairs.items()})
    decided = {w: settle(decided[w], a, b) for w, (a, b, _, _) in pairs.items()}
    return {
        workload: _gil_sentence(
            workload, decided[workload], row_of(frame, threads), row_of(frame, free)
        )
        for workload, (_, _, threads, free) in pairs.items()
    }


def versus_rivals(
    frame: pd.DataFrame, question: Question, found: LeaderSet, rounds: dict
) -> list[str]:
    """Free-threaded threads against each rival model, on the leader family's intervals."""
    main = main_of(frame)
    free = ("free-threaded", main or "")
    if free not in found.times:
        return []
    where = f"on {question.workload} at {workers_text(question.workers)}, {question.images} images"
    lines = []
    for name in found.order:
        if name == free or name[0] not in RIVALS:
            continue
        decision = settle(
            found.decision(free, name), rounds[question.cells[free]], rounds[question.cells[name]]
        )
        times = f"{found.times[free]:.2f} s vs {found.times[name]:.2f} s"
        said = decision.sentence(name_of(free, main), name_of(name, main))
        lines.append(f"{where[0].upper()}{where[1:]}: {said} ({times}).")
    return lines


def past_the_cores(frame: pd.DataFrame, question: Question, rounds: dict, cores: int) -> str | None:
    if not question.beyond:
        return None
    pairs = {
        name: (rounds[question.cells[name]], rounds[question.beyond[name]])
        for name in question.cells
        if question.cells[name] in rounds and question.beyond[name] in rounds
    }
    if not pairs:
        return None
    decided = compare_family(pairs)  # this = at the cores, other = beyond them
    decided = {name: settle(decision, *pairs[name]) for name, decision in decided.items()}
    most = next(iter(question.beyond.values()))[2]
    parts = []
    for name, decision in decided.items():
        word = _change_word(decision)
        parts.append(f"{method_label(name[0])} {word} (time ratio {interval_text(decision.ratio)})")
    return (
        f"On {question.workload}, {most} workers instead of {question.workers} (beyond the "
        f"{cores} cores, {question.images} images): {'; '.join(parts)}."
    )


def _change_word(decision: Decision) -> str:
    """How the time changed going past the cores, from the at-the-cores side."""
    if decision.verdict == NOT_SETTLED:
        lean = "slower" if decision.outcome == FASTER else "faster"
        if decision.outcome == EQUIVALENT:
            lean = f"no different (within {decision.margin:.0%})"
        return f"leaning {lean}, not settled ({decision.rerun_text()})"
    if decision.outcome == FASTER:
        return "slower"
    if decision.outcome == SLOWER:
        return "faster"
    if decision.outcome == EQUIVALENT:
        return f"no different (within {decision.margin:.0%})"
    if decision.significant:  # the direction is known, the size is near the margin
        return "slightly slower" if decision.ratio.low > 1 else "slightly faster"
    return "cannot tell"


def memory(frame: pd.DataFrame, question: Question) -> str | None:
    """Peak memory (PSS where the OS has it) of processes against threads, at most workers."""
    main = main_of(frame)
    rows = frame[(frame["workload"] == question.workload) & (frame["interpreter"] == main)]
    most = int(rows["workers"].max())
    at = rows[(rows["workers"] == most) & (rows["images"] == question.images)]
    by_method = {row["method"]: row for _, row in at.iterrows() if row.get("peak_rss_mb")}
    processes = by_method.get("multiprocessing")
    threads = by_method.get("free-threaded", by_method.get("threading"))
    if processes is None or threads is None:
        return None
    share = processes["peak_rss_mb"] / threads["peak_rss_mb"]
    kind = (processes.get("memory_kind") or "rss").upper()
    verdict = (
        f"about the same as ({share:.2f}x)" if abs(share - 1) < MEMORY_TIE else f"{share:.1f}x"
    )
    return (
        f"Memory on {question.workload} ({most} workers, {question.images} images), peak "
        f"{kind} of the whole process tree over all rounds: multiprocessing "
        f"{processes['peak_rss_mb']:.0f} MiB, {verdict} {method_label(threads['method'])}'s "
        f"{threads['peak_rss_mb']:.0f} MiB."
    )


def cpu(frame: pd.DataFrame, question: Question, cores: int) -> str | None:
    parts = []
    main = main_of(frame)
    for name, key in question.cells.items():
        cell = row_of(frame, key)
        if cell is not None and pd.notna(cell.get("cpu_percent")):
            resolution = cell.get("cpu_resolution")
            plus = f" ±{resolution:.0f}" if pd.notna(resolution) else ""
            parts.append(f"{name_of(name, main)} {cell['cpu_percent']:.0f}%{plus}")
    if len(parts) < 2:
        return None
    return (
        f"CPU use on {question.workload} at {workers_text(question.workers)}, "
        f"{question.images} images (CPU time of the process tree over wall time, all rounds; "
        f"100% = one core, {100 * cores}% = all {cores}; ± is the clock-tick resolution): "
        f"{', '.join(parts)}."
    )


BUILD_COST_COLUMNS = [
    "workload", "images", "default_s", "free_threaded_s", "cost", "cost_low", "cost_high",
    "level", "outcome", "rounds", "default_build", "free_threaded_build",
]  # fmt: skip


def build_cost_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """sync on the free-threaded build against sync on the default build, per workload and
    image count, paired by round: one Holm family per image count, over the workloads (the
    question the sweep settles at the headline count; the figure and the sentences read the
    same intervals). `cost` is time(free-threaded) / time(default) - 1."""
    main, default = main_of(frame), default_build_of(frame)
    if main is None or default is None or main == default:
        return pd.DataFrame(columns=BUILD_COST_COLUMNS)
    rounds = rounds_of(frame)
    pairs: dict[tuple[str, int], tuple[Rounds, Rounds]] = {}
    for key, walls in rounds.items():
        workload, method, _, images, interpreter = key
        if method == "sync" and interpreter == default:
            ft = rounds.get((workload, "sync", 1, images, main))
            if ft is not None and len(set(ft) & set(walls)) >= 1:
                pairs[(workload, images)] = (walls, ft)
    if not pairs:
        return pd.DataFrame(columns=BUILD_COST_COLUMNS)
    decided = {}  # ratio = time(ft) / time(default)
    for count in sorted({images for _, images in pairs}):
        decided.update(
            compare_family({key: pair for key, pair in pairs.items() if key[1] == count})
        )
    found = []
    for (workload, images), (gil, ft) in sorted(pairs.items()):
        decision = decided[(workload, images)]
        shared = sorted(set(gil) & set(ft))
        found.append({
            "workload": workload, "images": images,
            "default_s": geometric_time(gil, shared), "free_threaded_s": geometric_time(ft, shared),
            "cost": decision.ratio.estimate - 1, "cost_low": decision.ratio.low - 1,
            "cost_high": decision.ratio.high - 1, "level": decision.level,
            "outcome": decision.outcome, "rounds": len(shared), "default_build": default,
            "free_threaded_build": main, "decision": decision,
        })  # fmt: skip
    return pd.DataFrame(found, columns=[*BUILD_COST_COLUMNS, "decision"])


def build_costs(frame: pd.DataFrame) -> list[str]:
    """The single-thread cost of the free-threaded build, per workload (largest image count)."""
    table = build_cost_frame(frame)
    lines = []
    for workload, rows in table.groupby("workload", sort=False):
        row = rows.loc[rows["images"].idxmax()]
        decision: Decision = row["decision"]
        verdict = {
            FASTER: "slower than", SLOWER: "faster than",
            EQUIVALENT: f"within {decision.margin:.0%} of", CANNOT_TELL: "not yet told apart from",
            NOT_SETTLED: "leaning {} than".format("slower" if decision.outcome == FASTER
                                                   else "faster"),
        }[decision.verdict]  # fmt: skip
        if decision.verdict == NOT_SETTLED and decision.outcome == EQUIVALENT:
            verdict = f"leaning within {decision.margin:.0%} of"
        settled = (
            f"; not settled: {decision.rerun_text()}" if decision.verdict == NOT_SETTLED else ""
        )
        lines.append(
            f"Single-thread cost of the free-threaded build on {workload}: sync on "
            f"{row['free_threaded_build']} was {verdict} sync on the default build "
            f"{row['default_build']}: time {change_text(decision.ratio)} ({row['images']} "
            f"images, geometric means {row['free_threaded_s']:.2f} s vs {row['default_s']:.2f} s "
            f"over {row['rounds']} paired rounds; Holm over {decision.family} comparisons"
            f"{settled})."
        )
    return lines


def conclusions(frame: pd.DataFrame, cores: int) -> list[str]:
    """The findings of one sweep, per workload and across workloads."""
    asked = questions_of(frame, cores)
    rounds = rounds_of(frame)
    gil = gil_effects(frame, asked, rounds)
    lines: list[str] = []
    for workload in dict.fromkeys(question.workload for question in asked):
        mine = {question.kind: question for question in asked if question.workload == workload}
        leaders = mine.get(LEADERS)
        found = leaders_of(leaders, rounds) if leaders is not None else None
        if leaders is not None and found is not None:
            lines.append(fastest(frame, leaders, found))
        if workload in gil:
            lines.append(gil[workload])
        if leaders is not None and found is not None:
            lines += versus_rivals(frame, leaders, found, rounds)
        if PAST_CORES in mine:
            line = past_the_cores(frame, mine[PAST_CORES], rounds, cores)
            lines += [line] if line else []
        if leaders is not None:
            lines += filter(None, [memory(frame, leaders), cpu(frame, leaders, cores)])
        lines += anomalies(frame, workload)
    return lines + build_costs(frame)

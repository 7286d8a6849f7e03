"""Which model when: the advice per workload, only as sure as the data, with how often a
rerun on this host would give the same advice.

The advice reads the same leader set as the findings (`findings.leaders_of`), so the guide
and the findings cannot disagree; its reproducibility is `results.reproducibility`'s replay
of this run's own noise through the same decision procedure.
"""

from __future__ import annotations

import pandas as pd

from nogilbench.report.conclusions.common import (
    default_build_of,
    main_of,
    name_of,
    questions_of,
    rounds_of,
    row_of,
    speedup_text,
    workers_text,
)
from nogilbench.report.conclusions.findings import flagged, leaders_of
from nogilbench.report.data import ok_rows
from nogilbench.results.decisions import EQUIVALENCE_MARGIN, LeaderSet
from nogilbench.results.questions import LEADERS, Question
from nogilbench.results.reproducibility import leader_reproducibility


def _today(found: LeaderSet, default: str | None) -> list[tuple[str, str]]:
    """The default build's configurations no other default-build one beat beyond the tier."""
    if default is None:
        return []
    ours = [name for name in found.order if name[1] == default]
    beaten = {name for name in ours for other in ours if other != name and found.beats(other, name)}
    return [name for name in ours if name not in beaten]


def _advice(frame: pd.DataFrame, question: Question, found: LeaderSet) -> str:
    main = main_of(frame)
    head = f"**{question.workload}**, {question.images}-image batches:"
    names = [name_of(name, main) for name in found.leaders]
    tier = f"{found.tier:.0%}"
    sync_leads = any(name[0] == "sync" for name in found.leaders)
    if sync_leads and len(found.leaders) == 1:
        return (
            f"{head} stay sequential: every concurrency model was surely slower than sync, by "
            f"more than {tier}"
        )
    if sync_leads:
        return (
            f"{head} no concurrency model was surely faster than sync by more than {tier}: "
            f"{', '.join(names)} form the leading tier"
        )
    workers = workers_text(question.workers)
    if found.winner is not None:
        cell = row_of(frame, question.cells[found.winner])
        return (
            f"{head} use {names[0]} with {workers} ({speedup_text(cell)} sync of its build); "
            f"every other configuration was surely slower, by more than {tier}"
        )
    out = len(found.order) - len(found.leaders)
    rest = (
        f"every other configuration was surely more than {tier} slower than one of them"
        if out
        else f"none was surely more than {tier} behind another"
    )
    within = f"; they were within {EQUIVALENCE_MARGIN:.0%} of each other" if found.decided else ""
    return f"{head} use any of {', '.join(names)} with {workers}: {rest}{within}"


def which_model_when(frame: pd.DataFrame, cores: int) -> list[str]:
    """A short guide: which model to pick for each workload, with its reproducibility."""
    lines = []
    main, default = main_of(frame), default_build_of(frame)
    rounds = rounds_of(frame)
    for question in questions_of(frame, cores):
        if question.kind != LEADERS:
            continue
        found = leaders_of(question, rounds)
        if found is None:
            continue
        line = _advice(frame, question, found) + flagged(frame, question, found.leaders)
        today = _today(found, default)
        if today and set(today) != set(found.leaders):
            line += ". On the default build people run today: " + " or ".join(
                name_of(name, main) for name in today
            )
        candidates = {name: rounds[key] for name, key in question.cells.items() if key in rounds}
        try:
            again = leader_reproducibility(candidates)
            line += f"; {again.text()} ({again.replicates} replays of this run's own noise)"
        except ValueError:
            line += "; too few rounds to estimate how often a rerun would agree"
        lines.append(line + ".")
    if lines:
        over = ok_rows(frame)
        if (over["workers"] > cores).any():
            lines.append(
                f"Workers beyond the {cores} usable cores oversubscribe them: set workers to the "
                f"core count ({cores}) for CPU-bound work unless the speedup plot shows otherwise."
            )
    return lines

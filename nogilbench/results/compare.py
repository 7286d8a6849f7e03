"""Two sweeps cell by cell (another run, host or interpreter), like pyperf's compare_to.

Cells are matched on workload, method, workers, image count and build (free-threaded or
default), so sweeps from two machines or two interpreter versions line up. The ratio is
time(B) / time(A) with Welch's t interval on log times (`stats.unpaired_ratio`): the rounds
of two sweeps are not paired. A difference is reported only when it is significant.

`relative=True` compares each cell's time relative to sync of its own group and build,
round by round (its speedup's reciprocal), instead of its absolute time: a host that is
uniformly a few percent faster or slower between two runs (drift no shuffling within a
sweep can cancel) then shows no difference, while a change in how one model does against
sync still does. The report's sentences are about such ratios, so this is the comparison
that says whether they hold; absolute times say whether the host changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nogilbench.results import stats
from nogilbench.results.decisions import EQUIVALENCE_MARGIN, EQUIVALENT, FASTER, SLOWER, decide
from nogilbench.results.tables import method_order, value_of

MatchKey = tuple[str, str, int, int, str]  # workload, method, workers, images, build


def build_of_row(row: Any) -> str:
    return "free-threaded" if value_of(row, "free_threaded_build") else "default"


def match_key(row: Any) -> MatchKey:
    return (
        value_of(row, "workload"), value_of(row, "method"), value_of(row, "workers"),
        value_of(row, "images"), build_of_row(row),
    )  # fmt: skip


@dataclass(frozen=True)
class CellComparison:
    key: MatchKey
    a_median_s: float
    b_median_s: float
    ratio: stats.Interval  # time(B) / time(A): above 1, B is slower
    verdict: str  # "B slower" | "B faster" | "within 5%" | "cannot tell"

    @property
    def changed(self) -> bool:
        """B is faster or slower than A by the one rule (results.decisions)."""
        return self.verdict in ("B slower", "B faster")

    @property
    def change(self) -> float:
        return self.ratio.estimate - 1

    def as_dict(self) -> dict[str, Any]:
        workload, method, workers, images, build = self.key
        return {
            "workload": workload, "method": method, "workers": workers, "images": images,
            "build": build, "a_median_s": self.a_median_s, "b_median_s": self.b_median_s,
            "ratio": round(self.ratio.estimate, 4), "ratio_low": round(self.ratio.low, 4),
            "ratio_high": round(self.ratio.high, 4), "verdict": self.verdict,
        }  # fmt: skip


def _relative_times(row: Any, sync: Any) -> list[float]:
    """time(cell) / time(sync of its group and build), for each round both measured."""
    cell = stats.rounds_of(value_of(row, "wall_times_s") or [], value_of(row, "wall_rounds"))
    base = stats.rounds_of(value_of(sync, "wall_times_s") or [], value_of(sync, "wall_rounds"))
    return [cell[number] / base[number] for number in sorted(set(cell) & set(base))]


def compare_sweeps(
    a_rows: Sequence[Any], b_rows: Sequence[Any], relative: bool = False
) -> list[CellComparison]:
    """Every cell measured (status ok) in both sweeps, in matrix order (with `relative`,
    every cell but sync, as time relative to its group's sync)."""
    first = {match_key(row): row for row in a_rows if value_of(row, "status") == "ok"}
    second = {match_key(row): row for row in b_rows if value_of(row, "status") == "ok"}
    compared = []
    for key in sorted(set(first) & set(second), key=_order):
        if relative:
            workload, method, _, images, build = key
            sync_key = (workload, "sync", 1, images, build)
            if method == "sync" or sync_key not in first or sync_key not in second:
                continue
            a_walls = _relative_times(first[key], first[sync_key])
            b_walls = _relative_times(second[key], second[sync_key])
        else:
            a_walls = value_of(first[key], "wall_times_s") or []
            b_walls = value_of(second[key], "wall_times_s") or []
        if not a_walls or not b_walls:
            continue
        ratio = stats.unpaired_ratio(b_walls, a_walls)
        outcome = decide(ratio.inverted())  # "faster": B's time is lower (the one rule)
        verdict = {FASTER: "B faster", SLOWER: "B slower", EQUIVALENT: "within 5%"}.get(
            outcome, "cannot tell"
        )
        a_median = value_of(first[key], "wall_median_s")
        b_median = value_of(second[key], "wall_median_s")
        compared.append(CellComparison(key, a_median, b_median, ratio, verdict))
    return compared


def _order(key: MatchKey) -> tuple[Any, ...]:
    workload, method, workers, images, build = key
    return (workload, images, method_order(method), build, workers)


def regressions(compared: Sequence[CellComparison], threshold: float) -> list[CellComparison]:
    """Cells where B is slower than A (the one rule) by at least `threshold` (0.10 = 10%)."""
    return [c for c in compared if c.verdict == "B slower" and c.change >= threshold]


def summary_line(compared: Sequence[CellComparison], relative: bool = False) -> str:
    slower = sum(c.verdict == "B slower" for c in compared)
    faster = sum(c.verdict == "B faster" for c in compared)
    same = sum(c.verdict == "within 5%" for c in compared)
    unknown = len(compared) - slower - faster - same
    what = "cells compared, each relative to its group's sync" if relative else "cells compared"
    return (
        f"{len(compared)} {what}: {slower} slower in B, {faster} faster, {same} within "
        f"{EQUIVALENCE_MARGIN:.0%} of each other, {unknown} cannot tell (95% Welch t interval "
        "on log times; faster or slower only with the interval clear of 1 and the estimate "
        f"beyond {EQUIVALENCE_MARGIN:.0%}: results.decisions)"
    )

"""Where the next round of measurement should go: to the report's undecided questions.

The report asks a known list of questions (the GIL's effect per workload, free-threaded vs
each rival at the headline point, the build's single-thread cost, which model when, ...).
Each is a `Question`: candidate cells of one group (the cells measured together in a round)
and how they are decided, either as a leader set (`decisions.leader_set`) or as one Holm
family of comparisons (`decisions.compare_family`). These pure functions tell the sweep:

- which questions are still undecided ("cannot tell" somewhere, or leaders not yet within
  the margin of each other);
- how many rounds would likely decide each, from the observed per-round SD of its log ratios
  (a power calculation, below), and how many seconds that is at the group's cost per round;
- which group the next round should go to, and which of its cells: the undecided question
  with the highest priority (the headline group's questions first) that more rounds can
  decide within the cap, the cheapest first among equals.

**The power calculation.** A comparison with true mean log ratio d and per-round SD s,
decided at n rounds with a two-sided t interval at level 1 - a, is decided when
"faster"/"slower" (interval clear of 1 and estimate beyond the margin) or "equivalent"
(interval inside the band) comes out. With the estimate d^ ~ N(d, s^2/n) and the SD estimate
s^ independent of it (s^2 (n-1)/s^2 ~ chi2(n-1)), the probability of each is an integral over
s^, done on 64 quantiles of chi2(n-1):

    P(decided) = E[ P(|d^| > max(margin, t s^/sqrt(n)), sign right)
                   + P(|d^| < margin - t s^/sqrt(n)) ]

The rounds needed are the fewest n with P(decided) >= `power` (0.9). The observed d and s
stand in for the truth, so the figure is an estimate with the noise of a few rounds; a true
difference right at the margin (5%) needs unboundedly many rounds and gets None ("not within
`cap` rounds"). In a family the level is that of the comparisons still open, a / (number of
undecided comparisons): the decided ones take Holm's first steps. Each comparison of a question
is planned on its own; the question needs the most any of them needs.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from nogilbench.results.decisions import (
    EQUIVALENCE_MARGIN,
    FAMILY_ERROR,
    Rounds,
    compare_family,
    leader_set,
    paired_moments,
)

POWER = 0.9  # rounds needed = the fewest that decide a question 9 times in 10
CAP = 100  # never plan beyond this many rounds of one group
_NODES = 64  # quantiles of the SD estimate's distribution in the power integral
LEADERS, COMPARISONS = "leaders", "comparisons"


# ------------------------------------------------------------------ the power calculation


def decide_probability(
    effect: float,
    sd: float,
    rounds: int | Sequence[int] | np.ndarray,
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> np.ndarray:
    """P(a comparison is decided) at each of `rounds` rounds (two or more).

    `effect`: true mean per-round log ratio; `sd`: its per-round standard deviation;
    `alpha`: the comparison's own alpha (its interval at 1 - alpha).
    """
    n = np.atleast_1d(np.asarray(rounds, dtype=float))[:, None]
    if np.any(n < 2):
        raise ValueError("a comparison needs at least 2 rounds")
    if sd <= 0:
        return np.ones(n.shape[0])  # identical rounds: decided from the start
    band = math.log1p(margin)
    nodes = (np.arange(_NODES) + 0.5) / _NODES
    df = n - 1
    estimated_sd = sd * np.sqrt(scipy_stats.chi2.ppf(nodes, df) / df)  # (rounds, nodes)
    half = scipy_stats.t.ppf(1 - alpha / 2, df) * estimated_sd / np.sqrt(n)
    se = sd / np.sqrt(n)
    size = abs(effect)
    beyond = np.maximum(band, half)
    # estimates on the true side beyond max(margin, half width), or (rarely) the other side
    directional = scipy_stats.norm.sf((beyond - size) / se) + scipy_stats.norm.cdf(
        (-beyond - size) / se
    )
    inside = np.clip(
        scipy_stats.norm.cdf((band - half - size) / se)
        - scipy_stats.norm.cdf((-band + half - size) / se),
        0.0,
        None,
    )
    return np.asarray((directional + inside).mean(axis=1))


def rounds_to_decide(
    effect: float,
    sd: float,
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
    power: float = POWER,
    cap: int = CAP,
) -> int | None:
    """The fewest rounds (2 to `cap`) deciding the comparison with probability `power`, or
    None when even `cap` rounds would not (a true difference close to the margin)."""
    if sd <= 0:
        return 2
    candidates = np.arange(2, cap + 1)
    probability = decide_probability(effect, sd, candidates, alpha=alpha, margin=margin)
    enough = np.nonzero(probability >= power)[0]
    return int(candidates[enough[0]]) if enough.size else None


# ------------------------------------------------------------------ questions


@dataclass(frozen=True)
class Question:
    """One question of the report, answered from the cells of one group."""

    name: str  # how the report names it: "pure-python: which model when"
    group: Hashable  # the group whose rounds measure its cells, e.g. (workload, images)
    kind: str  # LEADERS or COMPARISONS
    cells: tuple[str, ...]  # leaders: the candidates; comparisons: every cell of `pairs`
    pairs: tuple[tuple[str, str], ...] = ()  # comparisons: (this, other), one Holm family
    priority: int = 1  # 0 = the headline questions; lower goes first

    @classmethod
    def leaders(
        cls, name: str, group: Hashable, candidates: Sequence[str], priority: int = 1
    ) -> Question:
        return cls(name, group, LEADERS, tuple(candidates), (), priority)

    @classmethod
    def comparisons(
        cls, name: str, group: Hashable, pairs: Sequence[tuple[str, str]], priority: int = 1
    ) -> Question:
        cells = tuple(dict.fromkeys(cell for pair in pairs for cell in pair))
        return cls(name, group, COMPARISONS, cells, tuple(pairs), priority)


@dataclass(frozen=True)
class QuestionState:
    """Where one question stands, and what more measurement would likely buy."""

    question: Question
    decided: bool
    rounds: int  # rounds every cell of the question has now
    rounds_needed: int | None  # total rounds likely (P >= power) to decide it; None: > cap
    open: tuple[str, ...]  # the comparisons still undecided, "a vs b"
    round_seconds: float | None = None  # cost of one more round of its group
    blocked: tuple[str, ...] = ()  # open comparisons `cap` rounds would not likely decide

    @property
    def more_rounds(self) -> int | None:
        if self.decided:
            return 0
        return None if self.rounds_needed is None else max(self.rounds_needed - self.rounds, 1)

    @property
    def more_seconds(self) -> float | None:
        more = self.more_rounds
        if more is None or self.round_seconds is None:
            return None
        return more * self.round_seconds

    def text(self) -> str:
        """'pure-python: which model when: undecided after 6 rounds; about 9 more rounds
        (~4 min) would likely decide it'."""
        head = f"{self.question.name}: "
        if self.decided:
            return head + f"decided after {self.rounds} rounds"
        head += f"undecided after {self.rounds} rounds"
        if self.rounds < 2:
            return head + " (too few rounds to estimate the noise)"
        if self.rounds_needed is None:
            why = f" ({', '.join(self.blocked)}: too close to the margin)" if self.blocked else ""
            return head + f"; not likely decided within {CAP} rounds on this host{why}"
        cost = self.more_seconds
        spent = f" (~{_duration(cost)})" if cost is not None else ""
        return head + f"; about {self.more_rounds} more rounds{spent} would likely decide it"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _shared_rounds(data: Mapping[str, Rounds], cells: Sequence[str]) -> int:
    found = [set(data.get(cell, {})) for cell in cells]
    return len(set.intersection(*found)) if found else 0


def _needed(
    decisions: Sequence[tuple[str, float, float, int]], alpha: float, margin: float, power: float,
    cap: int,
) -> tuple[int | None, tuple[str, ...]]:  # fmt: skip
    """The most rounds any open comparison (label, mean log ratio, se, rounds) needs (None if
    one would need more than `cap`), and the labels of those that would."""
    level = alpha / max(len(decisions), 1)
    most, blocked = 0, []
    for label, mean, se, rounds in decisions:
        sd = se * math.sqrt(rounds)
        found = rounds_to_decide(mean, sd, alpha=level, margin=margin, power=power, cap=cap)
        if found is None:
            blocked.append(label)
        else:
            most = max(most, found)
    return (None if blocked else most), tuple(blocked)


def assess(
    question: Question,
    data: Mapping[str, Rounds],
    *,
    round_seconds: float | None = None,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
    power: float = POWER,
    cap: int = CAP,
) -> QuestionState:
    """Decide `question` on `data` (cell -> round -> wall time) and plan what would finish it."""
    missing = [cell for cell in question.cells if not data.get(cell)]
    if missing:
        raise ValueError(f"{question.name}: no rounds for {', '.join(missing)}")
    rounds = _shared_rounds(data, question.cells)
    if rounds < 2:
        return QuestionState(question, False, rounds, None, ("every comparison",), round_seconds)
    open_: list[tuple[str, float, float, int]] = []
    if question.kind == LEADERS:
        shared = set.intersection(*(set(data[cell]) for cell in question.cells))
        cells = {cell: {r: data[cell][r] for r in shared} for cell in question.cells}
        found = leader_set(cells, alpha=alpha, margin=margin)
        for i, a in enumerate(found.leaders):
            for b in found.leaders[i + 1 :]:
                if found.decision(a, b).outcome != "equivalent":
                    open_.append((f"{a} vs {b}", *paired_moments(cells[a], cells[b])))
    elif question.kind == COMPARISONS:
        family = compare_family(
            {pair: (data[pair[0]], data[pair[1]]) for pair in question.pairs},
            alpha=alpha, margin=margin,
        )  # fmt: skip
        for (a, b), decision in family.items():
            if not decision.decided:
                open_.append((f"{a} vs {b}", *paired_moments(data[a], data[b])))
    else:
        raise ValueError(f"unknown kind of question {question.kind!r}: {LEADERS}, {COMPARISONS}")
    if not open_:
        return QuestionState(question, True, rounds, rounds, (), round_seconds)
    needed, blocked = _needed(open_, alpha, margin, power, cap)
    labels = tuple(label for label, *_ in open_)
    return QuestionState(question, False, rounds, needed, labels, round_seconds, blocked)


# ------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Plan:
    """Every question's state, and where the next round should go."""

    states: tuple[QuestionState, ...]
    next_group: Hashable | None  # None: nothing undecided that more rounds would likely settle
    next_cells: tuple[str, ...]  # the cells of that group the undecided questions use
    next_question: str | None  # the question that chose the group

    @property
    def undecided(self) -> list[QuestionState]:
        return [state for state in self.states if not state.decided]

    def lines(self) -> list[str]:
        """One line per undecided question, for the report's closing note."""
        return [state.text() for state in self.undecided]


def plan(
    questions: Sequence[Question],
    data: Mapping[str, Rounds],
    *,
    round_seconds: Mapping[Hashable, float] | None = None,
    max_rounds: int = CAP,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
    power: float = POWER,
) -> Plan:
    """Assess every question and choose the next round.

    Eligible: an undecided question whose group has fewer than `max_rounds` rounds and that
    either has too few rounds to plan (< 3) or would likely be decided within `max_rounds`.
    The next round goes to the eligible question with the lowest `priority`, then the fewest
    seconds (or rounds) still needed; it measures every cell of its group that an eligible
    question of that group uses, so one round serves all of them.
    """
    costs = round_seconds or {}
    states = tuple(
        assess(
            question,
            data,
            round_seconds=costs.get(question.group),
            alpha=alpha,
            margin=margin,
            power=power,
        )
        for question in questions
    )

    def eligible(state: QuestionState) -> bool:
        if state.decided or state.rounds >= max_rounds:
            return False
        if state.rounds < 3:
            return True
        return state.rounds_needed is not None and state.rounds_needed <= max_rounds

    def urgency(state: QuestionState) -> tuple[float, float, float]:
        more = state.more_rounds if state.more_rounds is not None else 0
        seconds = state.more_seconds if state.more_seconds is not None else 0.0
        return (state.question.priority, seconds, more)

    waiting = [state for state in states if eligible(state)]
    if not waiting:
        return Plan(states, None, (), None)
    first = min(waiting, key=urgency)
    group = first.question.group
    cells = tuple(
        dict.fromkeys(
            cell for state in waiting if state.question.group == group
            for cell in state.question.cells
        )
    )  # fmt: skip
    return Plan(states, group, cells, first.question.name)

"""The questions a report answers, and the cells that answer them.

The report's sentences are the product; the measurement is designed backwards from them. For
each workload, at its headline point (the most workers that fit the usable cores, the largest
image count), a sweep asks:

- **which model when** (`LEADERS`): which deployable configurations are fastest: every method
  on the default (GIL) build, and on the free-threaded build the methods that run with the GIL
  off (free-threaded threads, asyncio, sub-interpreters), plus sync on both builds;
- **what the GIL costs** (`GIL_EFFECT`): the same threads with the GIL on and off, same binary;
- **the free-threaded build's single-thread cost** (`BUILD_COST`): sync on both builds;
- **past the cores** (`PAST_CORES`): each method at the headline workers against the most
  workers the sweep measured, when that is beyond the cores.

The sweep spends its extra rounds on the cells of the questions still undecided
(`sweep.rounds.focus_rounds`); the report states each answer through `results.decisions`.
Both find the questions here, from the same rows, so they can never disagree on which cells
a sentence is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nogilbench.model import CellKey, cell_key
from nogilbench.results.budget import rounds_to_decide
from nogilbench.results.decisions import (
    CANNOT_TELL,
    FAMILY_ERROR,
    NOT_SETTLED,
    compare_family,
    leader_set,
    paired_moments,
)
from nogilbench.results.reproducibility import leader_reproducibility, settle
from nogilbench.results.stats import rounds_of
from nogilbench.results.tables import value_of

LEADERS = "leaders"
GIL_EFFECT = "gil effect"
BUILD_COST = "build cost"
PAST_CORES = "past the cores"

# On the free-threaded build, these methods run with -X gil=1 (the same-binary matrix): a lab
# condition, not something anyone deploys, so they are not candidates for "which model when".
GIL_ON_ONLY_ON_FT = ("threading", "multiprocessing")


@dataclass(frozen=True)
class Question:
    """One question and its cells: `cells` maps a name (method, interpreter) to a cell key."""

    kind: str
    workload: str
    workers: int  # the headline workers
    images: int
    cells: dict[tuple[str, str], CellKey]
    # PAST_CORES only: the cells at the most workers, by the same names
    beyond: dict[tuple[str, str], CellKey] | None = None

    @property
    def all_cells(self) -> set[CellKey]:
        return set(self.cells.values()) | set((self.beyond or {}).values())

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.workload)


def headline_workers(workers: Iterable[int], cores: int) -> int:
    """The headline's worker count: the largest one that fits the usable cores."""
    counts = sorted(set(workers))
    if not counts:
        raise ValueError("no worker counts")
    return max((w for w in counts if w <= cores), default=counts[0])


def _named(
    cells: set[CellKey],
    workload: str,
    images: int,
    pairs: Iterable[tuple[str, str | None]],
    workers: int,
) -> dict[tuple[str, str], CellKey]:
    """The measured cells among (method, interpreter) pairs at `workers` (sync: 1 worker)."""
    picked = {}
    for method, interpreter in pairs:
        if interpreter is None:
            continue
        key = (workload, method, 1 if method == "sync" else workers, images, interpreter)
        if key in cells:
            picked[(method, interpreter)] = key
    return picked


def _ok(rows: Iterable[Any]) -> list[Any]:
    return [row for row in rows if value_of(row, "status") == "ok"]


def questions(
    rows: Sequence[Any], cores: int, main: str | None, default_build: str | None
) -> list[Question]:
    """The questions the rows can answer (result rows, or measurement rows: any with a cell's
    key and a status); cells that failed or are unavailable take part in none."""
    ok = _ok(rows)
    found: list[Question] = []
    for workload in dict.fromkeys(value_of(row, "workload") for row in ok):
        mine = [row for row in ok if value_of(row, "workload") == workload]
        parallel = [
            int(value_of(row, "workers")) for row in mine if value_of(row, "method") != "sync"
        ]
        if not parallel:
            continue
        workers = headline_workers(parallel, cores)
        images = max(int(value_of(row, "images")) for row in mine)
        cells = {cell_key(row) for row in mine if int(value_of(row, "images")) == images}

        methods = list(dict.fromkeys(value_of(row, "method") for row in mine))
        deployable = [(m, default_build) for m in methods if m != "free-threaded"]
        deployable += [(m, main) for m in methods if m not in GIL_ON_ONLY_ON_FT]
        if default_build is None:  # one build only: every method of it is a candidate
            deployable = [(m, main) for m in methods]
        candidates = _named(cells, workload, images, deployable, workers)
        if len(candidates) >= 2:
            found.append(Question(LEADERS, workload, workers, images, candidates))
        gil = _named(
            cells, workload, images, [("threading", main), ("free-threaded", main)], workers
        )
        if len(gil) == 2:
            found.append(Question(GIL_EFFECT, workload, workers, images, gil))
        build = _named(cells, workload, images, [("sync", default_build), ("sync", main)], workers)
        if len(build) == 2 and default_build != main:
            found.append(Question(BUILD_COST, workload, workers, images, build))
        most = max(parallel)
        if most > workers and most > cores:
            pairs = [(m, main) for m in methods if m != "sync"]
            here, there = (
                _named(cells, workload, images, pairs, workers),
                _named(cells, workload, images, pairs, most),
            )
            shared = {name: here[name] for name in here if name in there}
            if shared:
                beyond = {name: there[name] for name in shared}
                found.append(Question(PAST_CORES, workload, workers, images, shared, beyond))
    return found


# ------------------------------------------------------------------ settled or not

SETTLED_REPRODUCIBILITY = 0.9  # a rerun would give the same answer at least 9 times in 10
MIN_SETTLED_ROUNDS = 6  # shared rounds before any leader set counts as settled
SETTLE_REPLICATES = 300  # simulated reruns per check (a few ms each)


def cell_rounds(results: Sequence[Any]) -> dict[CellKey, dict[int, float]]:
    """round -> wall time of every measured cell, from its result row (object or dict)."""
    found = {}
    for row in results:
        walls, numbers = value_of(row, "wall_times_s"), value_of(row, "wall_rounds")
        if value_of(row, "status") != "ok" or walls is None or len(walls) == 0:
            continue
        numbers = None if numbers is None or len(numbers) == 0 else list(numbers)
        found[cell_key(row)] = rounds_of(list(walls), numbers)
    return found


def settled(question: Question, rounds: dict[CellKey, dict[int, float]]) -> bool:
    """True when more rounds would likely not change the question's answer: this run's
    answer would come out the same in at least 9 reruns in 10 (estimated from its own noise,
    `results.reproducibility`), and it says something: a pairwise question is decided, not
    "cannot tell"; the leaders exclude someone or are all within the margin of each other.
    (With 2 rounds "every one could be the fastest" repeats in every rerun: reproducible, and
    empty.)"""
    try:
        if question.kind == LEADERS:
            candidates = {name: rounds[key] for name, key in question.cells.items()}
            found = leader_set(candidates)
            informative = found.decided or len(found.leaders) < len(candidates)
            if found.rounds < MIN_SETTLED_ROUNDS or not informative:
                return False
            again = leader_reproducibility(candidates, replicates=SETTLE_REPLICATES)
            return again.agreement >= SETTLED_REPRODUCIBILITY
        pairs = [tuple(question.cells.values())]
        if question.kind == PAST_CORES and question.beyond:
            pairs = [(question.cells[name], question.beyond[name]) for name in question.cells]
        decided = compare_family(
            {index: (rounds[a], rounds[b]) for index, (a, b) in enumerate(pairs)}
        )
        # the same gate as the report's sentences (`reproducibility.settle`)
        for index, (first, second) in enumerate(pairs):
            if settle(decided[index], rounds[first], rounds[second]).verdict in (
                CANNOT_TELL,
                NOT_SETTLED,
            ):
                return False
        return True
    except (KeyError, ValueError):  # a cell without rounds, or fewer than 2 shared
        return False


def _pairs(question: Question) -> list[tuple[CellKey, CellKey]]:
    if question.kind == PAST_CORES and question.beyond:
        return [(question.cells[name], question.beyond[name]) for name in question.cells]
    first, second = tuple(question.cells.values())[:2]
    return [(first, second)]


def within_reach(
    question: Question, rounds: dict[CellKey, dict[int, float]], max_rounds: int
) -> bool:
    """False when more rounds up to `max_rounds` would likely not decide a pairwise question
    (a true difference close to the 5% margin, from its own observed spread and the power
    calculation of `results.budget`): the sweep then spends its passes elsewhere, and the
    report says how many rounds it would take. The leading tier is always within reach: it
    is the question the report is for."""
    if question.kind == LEADERS:
        return True
    pairs = _pairs(question)
    try:
        for first, second in pairs:
            mean, se, count = paired_moments(rounds[first], rounds[second])
            if count < 5:  # the guaranteed passes first: a 3-round spread says little
                return True
            needed = rounds_to_decide(
                mean, se * count**0.5, alpha=FAMILY_ERROR / len(pairs), cap=max_rounds
            )
            if needed is None:
                return False
    except (KeyError, ValueError):
        return True
    return True

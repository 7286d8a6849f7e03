"""The report's questions, found from rows, and when one counts as settled."""

from __future__ import annotations

import numpy as np

from nogilbench.results.questions import BUILD_COST, GIL_EFFECT, LEADERS, questions, settled

FT, GIL = "cpython-3.13.5t", "cpython-3.13.5"


def _row(method: str, workers: int, interpreter: str, images: int = 100) -> dict:
    return {"workload": "pure-python", "method": method, "workers": workers, "images": images,
            "interpreter": interpreter, "status": "ok"}  # fmt: skip


ROWS = [
    _row("sync", 1, FT), _row("threading", 2, FT), _row("free-threaded", 2, FT),
    _row("multiprocessing", 2, FT), _row("sync", 1, GIL), _row("multiprocessing", 2, GIL),
    _row("threading", 2, GIL), _row("free-threaded", 2, FT, images=10),
]  # fmt: skip


def test_questions_come_from_the_headline_point() -> None:
    found = {q.kind: q for q in questions(ROWS, cores=2, main=FT, default_build=GIL)}
    assert set(found) == {LEADERS, GIL_EFFECT, BUILD_COST}
    leaders = found[LEADERS]
    assert leaders.images == 100 and leaders.workers == 2
    # threading and multiprocessing on the free-threaded build run with the GIL on: a lab
    # condition, not a deployment, so not candidates for "which model when"
    assert ("threading", FT) not in leaders.cells and ("multiprocessing", FT) not in leaders.cells
    assert ("free-threaded", FT) in leaders.cells and ("multiprocessing", GIL) in leaders.cells
    assert set(found[BUILD_COST].cells) == {("sync", GIL), ("sync", FT)}


def _rounds(times: dict, count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    state = rng.normal(0, 0.05, count)
    return {
        key: {r: float(t * np.exp(state[r] + rng.normal(0, 0.01))) for r in range(count)}
        for key, t in times.items()
    }


def test_a_leader_set_is_settled_only_when_it_says_something() -> None:
    found = {q.kind: q for q in questions(ROWS, cores=2, main=FT, default_build=GIL)}
    leaders = found[LEADERS]
    clear = {key: (1.0 if name == ("multiprocessing", GIL) else 2.0)
             for name, key in leaders.cells.items()}  # fmt: skip
    # two rounds: "any of them could be the fastest" repeats in every rerun, and says nothing
    assert not settled(leaders, _rounds(clear, 2, seed=1))
    # enough rounds for one clear winner: settled
    assert settled(leaders, _rounds(clear, 8, seed=1))


def test_a_comparison_at_the_margin_is_out_of_reach_and_a_clear_one_is_not() -> None:
    """The sweep stops spending passes on a pairwise question more rounds would likely not
    decide (a difference at the 5% margin, per-round SD 0.09 as on a noisy host), never on the
    leading tier."""
    import math

    from nogilbench.results.questions import BUILD_COST, LEADERS, Question, within_reach

    def pair(ratio: float) -> dict[str, dict[int, float]]:
        host = [1.0, 1.3, 0.9, 1.1, 1.2, 0.8, 1.05, 0.95]  # the host's speed per round
        deviation = [0.09 * (-1) ** r for r in range(8)]  # the pair's own noise, SD 0.09
        return {
            "a": {r: host[r] for r in range(8)},
            "b": {r: host[r] * ratio * math.exp(deviation[r]) for r in range(8)},
        }

    cells = {("sync", "x"): "a", ("sync", "y"): "b"}
    question = Question(BUILD_COST, "w", 2, 100, cells)  # type: ignore[arg-type]
    assert not within_reach(question, pair(1.05), 20)
    assert within_reach(Question(LEADERS, "w", 2, 100, cells), pair(1.05), 20)  # type: ignore[arg-type]
    assert within_reach(question, pair(1.30), 20)

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

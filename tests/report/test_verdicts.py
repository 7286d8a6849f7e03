"""Every sentence of the conclusions goes through the one decision procedure
(`results.decisions`), and sentences about the same cells never disagree.

The fixtures are synthetic sweeps: per-round wall times with a host speed state shared by the
cells of a round (the noise pairing cancels) and some noise of each cell's own.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nogilbench.report import conclusions, data
from nogilbench.results import decisions, summarize
from nogilbench.store.models import Result

FT, DEFAULT = "cpython-3.13.5t", "cpython-3.13.5"
CORES = 2
# time of one round per configuration at the headline point (100 images), 2 workers
PURE_PYTHON = {
    ("sync", FT): 10.0, ("threading", FT): 8.6, ("multiprocessing", FT): 5.2,
    ("free-threaded", FT): 5.0, ("asyncio", FT): 5.1, ("subinterpreters", FT): 5.3,
    ("sync", DEFAULT): 7.8, ("threading", DEFAULT): 6.7, ("multiprocessing", DEFAULT): 4.0,
    ("asyncio", DEFAULT): 6.8, ("subinterpreters", DEFAULT): 4.1,
}  # fmt: skip


def synthetic_frame(
    times: dict[tuple[str, str], float],
    rounds: int,
    seed: int,
    shared_sd: float = 0.08,
    own_sd: float = 0.03,
    one_worker: dict[tuple[str, str], float] | None = None,
) -> pd.DataFrame:
    """A results frame of one workload: every configuration at 2 workers (sync at 1) and 8
    workers for the matrix rows, with `rounds` rounds of noise."""
    rng = np.random.default_rng(seed)
    state = rng.normal(0, shared_sd, rounds)  # the host's speed state, shared by a round
    measurements = []
    cells = []
    for (method, interpreter), time in times.items():
        counts = [1] if method == "sync" else [2]
        if interpreter == FT and method in ("threading", "multiprocessing", "free-threaded"):
            counts.append(8)
        for workers in counts:
            cells.append((method, interpreter, workers, time * (1.05 if workers == 8 else 1)))
    for (method, interpreter), time in (one_worker or {}).items():
        cells.append((method, interpreter, 1, time))
    for method, interpreter, workers, time in cells:
        own = rng.normal(0, own_sd, rounds)
        for number in range(rounds):
            wall = time * float(np.exp(state[number] + own[number]))
            measurements.append({
                "workload": "pure-python", "method": method, "workers": workers,
                "images": 100, "interpreter": interpreter, "round": number, "status": "ok",
                "wall_s": wall, "cpu_s": wall, "digest": "same", "peak_memory_mb": 50.0,
                "memory_kind": "pss", "gil_enabled": method != "free-threaded",
                "workers_observed": workers, "cpu_per_core": [50.0],
                "details": {"cores": CORES},
            })  # fmt: skip
    rows = [
        Result(
            sweep_id=1,
            interpreter_version="3.13.5",
            free_threaded_build=s["interpreter"] == FT,
            **{k: v for k, v in s.items() if k in Result.model_fields},
        )
        for s in summarize.summarize_sweep(measurements, CORES, DEFAULT)
    ]
    return data.results_frame(rows, "synthetic")


def every_sentence(frame: pd.DataFrame) -> str:
    return "\n".join(
        conclusions.conclusions(frame, CORES) + conclusions.which_model_when(frame, CORES)
    )


CLAIMS = re.compile(
    r"(?<!surely )faster than|slower than|within \d+% of|the fastest was|use any of|: use "
)


def test_no_claim_is_made_without_the_decision_procedure(monkeypatch) -> None:
    """With the one rule forced to "cannot tell", no sentence may claim a winner, a loser
    or an equivalence: each one would have had to decide outside `decisions`."""
    frame = synthetic_frame(PURE_PYTHON, rounds=12, seed=1, shared_sd=0.02, own_sd=0.01)
    decided = every_sentence(frame)
    assert "faster than" in decided  # the fixture is decisive when the rule is left alone

    def undecided(mean, se, critical, margin):
        return np.full(np.shape(mean), decisions.OUTCOMES.index(decisions.CANNOT_TELL), np.int8)

    monkeypatch.setattr(decisions, "outcome_codes", undecided)
    silenced = every_sentence(frame)
    for line in silenced.splitlines():
        assert not CLAIMS.search(line), line
        if "cost of the free-threaded build" in line:
            assert "not yet told apart from" in line


@pytest.mark.parametrize("seed", range(6))
def test_the_guide_and_the_findings_name_the_same_leaders(seed: int) -> None:
    frame = synthetic_frame(PURE_PYTHON, rounds=6, seed=seed)
    findings = conclusions.conclusions(frame, CORES)
    guide = conclusions.which_model_when(frame, CORES)
    fastest = next(line for line in findings if line.startswith("**pure-python**"))
    advice = next(line for line in guide if line.startswith("**pure-python**"))
    # every configuration the findings name among the fastest, the guide names, and no other
    named_in_findings = {label for label in LABELS if label in fastest.split(": ", 1)[1]}
    named_in_guide = {label for label in LABELS if label in advice.split(";")[0]}
    assert named_in_findings == named_in_guide


LABELS = (
    "subinterpreters [default build]", "multiprocessing [default build]",
    "free-threaded (GIL off)", "asyncio (GIL off)", "subinterpreters (GIL off)",
    "threading (GIL on) [default build]", "asyncio [default build]",
)  # fmt: skip


def test_free_threaded_versus_a_rival_agrees_with_the_leader_set() -> None:
    """A rival that excludes free-threaded threads from the leaders is the one the findings
    call faster than them; none is called slower and faster at once."""
    # the default build's process pool 1.4x ahead of free-threaded threads: beyond the tier
    times = {**PURE_PYTHON, ("multiprocessing", DEFAULT): 3.6, ("subinterpreters", DEFAULT): 3.7}
    frame = synthetic_frame(times, rounds=12, seed=3, shared_sd=0.02, own_sd=0.01)
    text = "\n".join(conclusions.conclusions(frame, CORES))
    assert "free-threaded (GIL off) was" in text
    assert "slower than multiprocessing [default build]" in text
    assert "faster than multiprocessing [default build]" not in text
    advice = "\n".join(conclusions.which_model_when(frame, CORES))
    assert "free-threaded (GIL off)" not in advice.split(";")[0]


def test_a_method_five_percent_faster_than_sync_per_item_is_not_an_anomaly() -> None:
    """Threads doing an item 5% faster than sync at 1 worker, and scaling to 2 workers on 2
    cores: plausible against their own 1-worker time, so no flag (the old rule flagged it)."""
    times = dict(PURE_PYTHON)
    times[("threading", DEFAULT)] = 7.8 / 0.95 / 1.9  # 1.9x its own 1-worker time
    frame = synthetic_frame(
        times, rounds=10, seed=4, shared_sd=0.01, own_sd=0.005,
        one_worker={("threading", DEFAULT): 7.8 / 1.05},
    )  # fmt: skip
    flagged = frame[frame["anomaly"].fillna("").astype(bool)]
    assert flagged.empty, flagged[["method", "interpreter", "workers", "anomaly"]]


def test_every_printed_interval_states_its_level() -> None:
    frame = synthetic_frame(PURE_PYTHON, rounds=8, seed=5)
    for line in conclusions.conclusions(frame, CORES):
        for bracket in re.finditer(r"\[[-+\d.%, ]+\]", line):
            tail = line[bracket.end() : bracket.end() + 12]
            assert re.match(r" \(\d+(\.\d+)?%", tail), (line, tail)

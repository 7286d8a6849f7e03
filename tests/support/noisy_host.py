"""Synthetic rounds with a noisy host's noise, for the statistics tests (numpy, seeded).

Measured on a 2-core shared VM (issue 17): the per-round SD of a log ratio between two cells
of one round was 0.08-0.10; the host's speed state is shared by the cells of a round (its
wall times move together); now and then one cell lost a core for a few seconds (a burst).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

HOST_SD = 0.15  # the round's shared speed state (log scale): cancels in a paired ratio


def noisy_logs(
    rng: np.random.Generator,
    means: Sequence[float],
    rounds: int,
    runs: int,
    *,
    ratio_sd: float = 0.09,
    burst_rate: float = 0.0,
    burst: float = 0.5,
) -> np.ndarray:
    """(runs, rounds, k) log wall times: each cell's true mean log time, plus the round's host
    state (shared by its cells), plus each cell's own noise (so that a log ratio between two
    cells has per-round SD `ratio_sd`), plus, at rate `burst_rate`, a burst on one cell."""
    k = len(means)
    shared = rng.normal(0.0, HOST_SD, (runs, rounds, 1))
    own = rng.normal(0.0, ratio_sd / math.sqrt(2), (runs, rounds, k))
    bursts = (rng.random((runs, rounds, k)) < burst_rate) * burst
    return np.asarray(means, dtype=float) + shared + own + bursts


def as_cells(logs: np.ndarray, names: Sequence[str] | None = None) -> dict[str, dict[int, float]]:
    """One run's (rounds, k) log times as cell -> round -> wall time (s), 1 s = mean 0."""
    labels = list(names) if names is not None else [f"m{i}" for i in range(logs.shape[1])]
    return {
        label: {r: float(math.exp(logs[r, i])) for r in range(logs.shape[0])}
        for i, label in enumerate(labels)
    }

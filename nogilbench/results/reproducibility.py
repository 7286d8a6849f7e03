"""How often a rerun on this host would give the same answer, estimated from this run's noise.

"A rerun on this host would name the same set about 9 times in 10": no benchmarking tool
states this, and it is what a reader deciding on the report needs to know.

**The model of a rerun.** A round of a group is a vector of log wall times, one per candidate
cell; what varies from round to round is shared by cells measured at the same time (the host's
speed state) and partly individual. This run's rounds give the centre (each candidate's mean
log time) and the residuals around it. A simulated rerun has the same number of rounds, each
drawn as centre + (z_1 e_1 + ... + z_n e_n) / sqrt(n - 1), with e_r this run's residual
vectors and z_r independent standard normal: a Gaussian multiplier (parametric) bootstrap
whose rounds have exactly this run's covariance between candidates, so the pairing by round
and the host's shared state are preserved. Resampling whole rounds with replacement would do
the same on average but breaks down at the 3-6 rounds a sweep has: 1 run in 9 of a 3-round
resample repeats one round three times and its intervals collapse to a point.

**The same procedure.** Each simulated rerun goes through `decisions.leader_masks` (or, for a
single comparison, `decisions.outcome_codes`), the very function the report's sentence uses.

**The two numbers.** `same_as_this_run`: the share of simulated reruns naming exactly this
run's set (or outcome). `two_reruns_agree`: the chance that two independent reruns name the
same set, sum over sets of p_s^2, computed without the 1/B self-match bias as
sum c_s (c_s - 1) / (B (B - 1)). Averaged over runs both estimate the same quantity; the
first speaks about this report, the second about the question on this host.

**What it assumes and where it errs.** The centre is this run's estimate, not the truth. Where
candidates are truly tied, this run's spread of estimates makes simulated reruns slightly
more likely to separate them than real ones, so the estimate errs low (humble); where a
difference lies near a decision threshold, a rerun may go either way and the estimate says
so. tests/results/test_reproducibility.py replays known truths (simulating many real reruns
directly) and checks the estimate against them. Deterministic for a given seed; 500
replicates of 8 candidates x 10 rounds take a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from nogilbench.results.decisions import (
    EQUIVALENCE_MARGIN,
    FAMILY_ERROR,
    OUTCOMES,
    Rounds,
    critical_t,
    leader_masks,
    outcome_codes,
    pair_moments,
)

K = TypeVar("K", bound=Hashable)
REPLICATES = 500
SEED = 0


@dataclass(frozen=True)
class Reproducibility(Generic[K]):
    """How stable one answer is under this host's noise."""

    answer: frozenset[K] | str  # this run's leader set, or outcome of a comparison
    same_as_this_run: float  # share of simulated reruns giving exactly this answer
    two_reruns_agree: float  # chance that two independent reruns agree with each other
    replicates: int
    rounds: int  # rounds of each simulated rerun
    answers: dict[frozenset[K] | str, float]  # share of reruns per answer, most common first

    def text(self, what: str = "set") -> str:
        """'a rerun on this host would name the same set about 9 times in 10'."""
        times = round(10 * self.same_as_this_run)
        return f"a rerun on this host would name the same {what} about {times} times in 10"


def simulate_reruns(
    logs: np.ndarray, replicates: int, rounds: int, rng: np.random.Generator
) -> np.ndarray:
    """`replicates` reruns of `rounds` rounds each from this run's (rounds, k) log times:
    (replicates, rounds, k), every round with this run's covariance between candidates."""
    observed = logs.shape[0]
    if observed < 2:
        raise ValueError("at least 2 rounds are needed to estimate a host's noise")
    centre = logs.mean(axis=0)
    residuals = logs - centre
    weights = rng.standard_normal((replicates, rounds, observed))
    return centre + weights @ residuals / math.sqrt(observed - 1)


def _log_matrix(candidates: Mapping[K, Rounds]) -> tuple[list[K], np.ndarray]:
    names = list(candidates)
    shared = set.intersection(*(set(cell) for cell in candidates.values()))
    rounds = sorted(shared)
    if len(rounds) < 2:
        raise ValueError("the candidates share fewer than 2 rounds: no noise to resample")
    return names, np.log([[candidates[name][r] for name in names] for r in rounds])


def _summarise(codes: np.ndarray, this: int, decode: dict[int, frozenset[K] | str]
               ) -> tuple[float, float, dict[frozenset[K] | str, float]]:  # fmt: skip
    values, counts = np.unique(codes, return_counts=True)
    total = codes.size
    same = float(np.mean(codes == this))
    agree = float(np.sum(counts * (counts - 1)) / (total * (total - 1))) if total > 1 else 1.0
    shares = sorted(zip(values.tolist(), (counts / total).tolist(), strict=True),
                    key=lambda item: -item[1])  # fmt: skip
    return same, agree, {decode[int(code)]: float(share) for code, share in shares}


def _set_codes(masks: np.ndarray) -> np.ndarray:
    """(..., k) booleans -> one integer per set (bit i = candidate i)."""
    return (masks.astype(np.int64) << np.arange(masks.shape[-1], dtype=np.int64)).sum(axis=-1)


def leader_reproducibility(
    candidates: Mapping[K, Rounds],
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
    rounds: int | None = None,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> Reproducibility[K]:
    """How often a rerun names the same leader set as this run (`decisions.leader_set`).

    `rounds`: rounds of each rerun (default: as many as this run's candidates share).
    """
    names, logs = _log_matrix(candidates)
    rng = np.random.default_rng(seed)
    reruns = simulate_reruns(logs, replicates, rounds or logs.shape[0], rng)
    this = int(_set_codes(leader_masks(logs, alpha, margin)))
    codes = _set_codes(leader_masks(reruns, alpha, margin))

    def members(code: int) -> frozenset[K]:
        return frozenset(name for i, name in enumerate(names) if code >> i & 1)

    decode = {int(code): members(int(code)) for code in np.unique(np.append(codes, this))}
    same, agree, shares = _summarise(codes, this, decode)
    return Reproducibility(decode[this], same, agree, replicates, rounds or logs.shape[0], shares)


def comparison_reproducibility(
    this: Rounds,
    other: Rounds,
    *,
    family: int = 1,
    replicates: int = REPLICATES,
    seed: int = SEED,
    rounds: int | None = None,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> Reproducibility[str]:
    """How often a rerun gives the same outcome of `decisions.compare(this, other)` (at the
    Bonferroni level 1 - alpha/family, the level Holm's first step uses)."""
    _, logs = _log_matrix({"this": this, "other": other})
    rng = np.random.default_rng(seed)
    count = rounds or logs.shape[0]
    reruns = simulate_reruns(logs, replicates, count, rng)

    def codes_of(values: np.ndarray) -> np.ndarray:
        mean, se = pair_moments(values)
        critical = critical_t(values.shape[-2], alpha / family)
        return outcome_codes(mean[..., 0, 1], se[..., 0, 1], critical, margin)

    observed = int(codes_of(logs))
    codes = codes_of(reruns)
    decode: dict[int, frozenset[str] | str] = dict(enumerate(OUTCOMES))
    same, agree, shares = _summarise(codes, observed, decode)
    return Reproducibility(OUTCOMES[observed], same, agree, replicates, count, shares)

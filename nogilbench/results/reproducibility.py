"""How often a rerun on this host would give the same answer, estimated from this run's noise.

"A rerun on this host would name the same set about 9 times in 10": no benchmarking tool
states this, and it is what a reader deciding on the report needs to know.

**A simulated rerun.** A round of a group is a vector of log wall times, one per candidate
cell; what varies from round to round is partly shared by the cells measured at the same
time (the host's speed state) and partly each cell's own. A rerun has as many rounds as this
run (or `rounds`), each drawn as centre + scale * (z_1 e_1 + ... + z_n e_n) / sqrt(n - 1):
e_r are this run's residual vectors (each round minus the candidates' means), z_r independent
standard normal. Every simulated round thus has exactly this run's covariance between
candidates: the pairing by round and the host's shared state are preserved. (Resampling whole
rounds with replacement breaks down at the 3-6 rounds a sweep has: one 3-round resample in 9
repeats one round three times and its intervals collapse to a point.) Two corrections make the
simulation a rerun rather than an echo of this run:

- *The centre* is this run's means, shrunk within each cluster of candidates this run could
  not tell apart (connected by comparisons that were not "faster"/"slower"), by the
  constrained-Bayes factor sqrt(1 - noise / spread) (Louis 1984): the shrunk means spread as
  much as the true ones are estimated to, not as much as noisy estimates do. Plain plug-in
  means make truly tied candidates look separated by their own noise and halve the estimate
  for a tie that real reruns repeat 9 times in 10.
- *The noise scale* of each rerun is drawn from its uncertainty, scale^2 = (n - 1) / chi2(n - 1)
  (the posterior of a variance estimated on n - 1 degrees of freedom): at 3-4 rounds this
  run's spread is often too small by chance, and reruns drawn from it alone would be too
  decisive.

**The same procedure.** Each simulated rerun goes through `decisions.leader_masks` (or, for a
single comparison, `decisions.decide_family`), the very functions the report's sentences use.

**The number.** `agreement`: the chance that two independent reruns give the same answer,
sum over answers of p^2, computed without the self-match bias as sum c (c - 1) / (B (B - 1)).
Averaged over runs it equals the chance that a rerun repeats a run's answer, and it is what
`text()` prints. `same_as_this_run` (the share of simulated reruns giving exactly this run's
answer) is kept for inspection: this run's answer sits at the centre of the simulation, so it
runs high (by about 0.1 in the replays).

**How good it is.** tests/results/test_reproducibility.py replays known truths (many real
reruns simulated directly under a noisy host's noise: per-round SD of a log ratio 0.09, a
shared host state per round) and compares the mean estimate of 40 runs with them, for the
leading tier at its margin of a third. All tied, two clear tiers, or well separated (true
agreement 1.00): within 0.02. The nine pure-python candidates of the noisy host (a tier of
0-15%, the rest 55-140% behind; 1.00): 0.07-0.08 low at 6 rounds, within 0.01 at 10, the
noise scale itself being uncertain at 5 degrees of freedom. A ladder inside the tier with
one far behind (0.99): 0.04-0.07 low. Candidates at the tier margin itself (0.33): 0.04-0.06
high: one run cannot tell such a truth from one just beside it. One run's estimate is
itself noisy (mean absolute error up to 0.12 near the margin): read "about 9 times in 10"
as "most reruns", not a guarantee. Deterministic for a given seed; 500 replicates of 8
candidates x 10 rounds take a few hundredths of a second.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import numpy as np

from nogilbench.results.decisions import (
    EQUIVALENCE_MARGIN,
    FAMILY_ERROR,
    FASTER,
    OUTCOMES,
    SLOWER,
    TIER_MARGIN,
    Decision,
    Rounds,
    decide_family,
    leader_family,
    leader_masks,
    pair_moments,
)

K = TypeVar("K", bound=Hashable)
REPLICATES = 500
SEED = 0


@dataclass(frozen=True)
class Reproducibility(Generic[K]):
    """How stable one answer is under this host's noise."""

    answer: frozenset[K] | str  # this run's leader set, or outcome of a comparison
    agreement: float  # chance that two independent reruns give the same answer
    same_as_this_run: float  # share of simulated reruns giving exactly this run's answer
    replicates: int
    rounds: int  # rounds of each simulated rerun
    answers: dict[frozenset[K] | str, float]  # share of reruns per answer, most common first

    def text(self, what: str = "set") -> str:
        """'a rerun on this host would name the same set about 9 times in 10'."""
        times = round(10 * self.agreement)
        return f"a rerun on this host would name the same {what} about {times} times in 10"


def _clusters(logs: np.ndarray, alpha: float, margin: float) -> list[list[int]]:
    """Candidates this run could not tell apart, transitively (union-find on the pairs not
    decided "faster" or "slower")."""
    k = logs.shape[-1]
    parent = list(range(k))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    codes = leader_family(logs, alpha, margin)[0]
    for index, (i, j) in enumerate(zip(*np.triu_indices(k, 1), strict=True)):
        if OUTCOMES[codes[index]] not in (FASTER, SLOWER):
            parent[root(int(i))] = root(int(j))
    clusters: dict[int, list[int]] = {}
    for i in range(k):
        clusters.setdefault(root(i), []).append(i)
    return list(clusters.values())


def shrunk_centre(logs: np.ndarray, alpha: float = FAMILY_ERROR,
                  margin: float = EQUIVALENCE_MARGIN) -> np.ndarray:  # fmt: skip
    """This run's mean log times, shrunk toward their cluster's mean by the constrained-Bayes
    factor sqrt(1 - noise / spread): noise is what the spread of the means would be if the
    cluster were tied, from this run's covariance between candidates."""
    rounds = logs.shape[0]
    centre = logs.mean(axis=0)
    covariance = np.atleast_2d(np.cov(logs, rowvar=False)) / rounds
    for members in _clusters(logs, alpha, margin):
        if len(members) < 2:
            continue
        size = len(members)
        centring = np.eye(size) - 1 / size
        noise = float(np.trace(centring @ covariance[np.ix_(members, members)] @ centring))
        mean = centre[members].mean()
        spread = float(((centre[members] - mean) ** 2).sum())
        factor = math.sqrt(max(0.0, 1 - noise / spread)) if spread > 0 else 0.0
        centre[members] = mean + factor * (centre[members] - mean)
    return centre


def simulate_reruns(
    logs: np.ndarray,
    replicates: int,
    rounds: int,
    rng: np.random.Generator,
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> np.ndarray:
    """`replicates` reruns of `rounds` rounds each from this run's (rounds, k) log times:
    (replicates, rounds, k), every round with this run's covariance between candidates (times
    a drawn noise scale), around the shrunk centre."""
    observed = logs.shape[0]
    if observed < 2:
        raise ValueError("at least 2 rounds are needed to estimate a host's noise")
    residuals = logs - logs.mean(axis=0)
    weights = rng.standard_normal((replicates, rounds, observed))
    scale = np.sqrt((observed - 1) / rng.chisquare(observed - 1, size=(replicates, 1, 1)))
    noise = scale * (weights @ residuals) / math.sqrt(observed - 1)
    return shrunk_centre(logs, alpha, margin) + noise


def _log_matrix(candidates: Mapping[K, Rounds]) -> tuple[list[K], np.ndarray]:
    names = list(candidates)
    shared = set.intersection(*(set(cell) for cell in candidates.values()))
    rounds = sorted(shared)
    if len(rounds) < 2:
        raise ValueError("the candidates share fewer than 2 rounds: no noise to resample")
    return names, np.log([[candidates[name][r] for name in names] for r in rounds])


def _summarise(codes: np.ndarray, this: int) -> tuple[float, float, list[tuple[int, float]]]:
    values, counts = np.unique(codes, return_counts=True)
    total = codes.size
    same = float(np.mean(codes == this))
    agree = float(np.sum(counts * (counts - 1)) / (total * (total - 1))) if total > 1 else 1.0
    shares = sorted(zip(values.tolist(), (counts / total).tolist(), strict=True),
                    key=lambda item: -item[1])  # fmt: skip
    return agree, same, shares


def set_codes(masks: np.ndarray) -> np.ndarray:
    """(..., k) booleans -> one integer per set (bit i = candidate i)."""
    return (masks.astype(np.int64) << np.arange(masks.shape[-1], dtype=np.int64)).sum(axis=-1)


def leader_reproducibility(
    candidates: Mapping[K, Rounds],
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
    rounds: int | None = None,
    alpha: float = FAMILY_ERROR,
    tier: float = TIER_MARGIN,
) -> Reproducibility[K]:
    """How often two reruns name the same leading tier (`decisions.leader_set`).

    `rounds`: rounds of each rerun (default: as many as this run's candidates share). The
    centre is shrunk within the clusters this run could not separate at the tier margin:
    what the set's answer depends on.
    """
    names, logs = _log_matrix(candidates)
    count = rounds or logs.shape[0]
    rng = np.random.default_rng(seed)
    reruns = simulate_reruns(logs, replicates, count, rng, alpha=alpha)
    this = int(set_codes(leader_masks(logs, alpha, tier)))
    agree, same, shares = _summarise(set_codes(leader_masks(reruns, alpha, tier)), this)

    def members(code: int) -> frozenset[K]:
        return frozenset(name for i, name in enumerate(names) if code >> i & 1)

    answers: dict[frozenset[K] | str, float] = {members(code): share for code, share in shares}
    return Reproducibility(members(this), agree, same, replicates, count, answers)


def comparison_reproducibility(
    this: Rounds,
    other: Rounds,
    *,
    replicates: int = REPLICATES,
    seed: int = SEED,
    rounds: int | None = None,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> Reproducibility[str]:
    """How often two reruns give the same outcome of `decisions.compare(this, other)`.

    In a Holm family of m, pass alpha / m (the level of Holm's first step): a conservative
    stand-in for the level the comparison will actually get.
    """
    _, logs = _log_matrix({"this": this, "other": other})
    count = rounds or logs.shape[0]
    rng = np.random.default_rng(seed)
    reruns = simulate_reruns(logs, replicates, count, rng, alpha=alpha, margin=margin)

    def codes_of(values: np.ndarray) -> np.ndarray:
        mean, se = pair_moments(values)
        codes, _ = decide_family(
            mean[..., 0, 1:], se[..., 0, 1:], values.shape[-2], alpha=alpha, margin=margin
        )
        return codes[..., 0]

    observed = int(codes_of(logs))
    agree, same, shares = _summarise(codes_of(reruns), observed)
    answers: dict[frozenset[str] | str, float] = {OUTCOMES[code]: share for code, share in shares}
    return Reproducibility(OUTCOMES[observed], agree, same, replicates, count, answers)


def settle(decision: Decision, this: Rounds, other: Rounds) -> Decision:
    """`decision` (this vs other) with how often two reruns would give the same outcome
    (`agreement`, as for the leading tier), replayed at the level its interval was printed
    at; a "cannot tell" is left as it is (nothing to repeat). Its `verdict` then reads
    NOT_SETTLED below 9 times in 10."""
    if not decision.decided:
        return decision
    try:
        again = comparison_reproducibility(
            this, other, alpha=1 - decision.level, margin=decision.margin
        )
    except ValueError:  # fewer than 2 shared rounds: no noise to replay
        return decision
    return replace(decision, agreement=again.agreement)

"""How many more rounds would likely decide a comparison the report left open.

The questions themselves, and whether each is settled, live in `results.questions` (the
sweep spends its rounds by them); this module only answers, for the report's quality notes,
"about 8 more rounds, 4 minutes" from a comparison's own observed spread (a power
calculation, below).

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
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

from nogilbench.results.decisions import EQUIVALENCE_MARGIN, FAMILY_ERROR

POWER = 0.9  # rounds needed = the fewest that decide a question 9 times in 10
CAP = 100  # never plan beyond this many rounds of one group
_NODES = 64  # quantiles of the SD estimate's distribution in the power integral


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

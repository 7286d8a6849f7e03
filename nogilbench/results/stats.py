"""Every statistic nogilbench states: intervals, ratios, significance, physical plausibility.

The store, the report, the CLI and the API call this module; nothing else computes a
speedup or an interval. Timings on a shared host are right-skewed and drift, so:

- A cell's wall time is the **median** of its rounds, with a distribution-free
  order-statistics interval (Hettmansperger-Sheather interpolation between the binomial
  ranks). With fewer than 6 rounds no such interval reaches 95%: the interval is then
  [min, max] and carries its own, lower, confidence (75% for 3 rounds), which the report
  says, and which the sweep treats as "not precise enough yet".
- A ratio between two cells of one sweep (a speedup, A vs B) is **paired by round**: the
  cells of a round run one after another in a shuffled order, so slow minutes hit both. Its
  estimate is the geometric mean of the per-round ratios and its interval a Student t
  interval on their logarithms: valid from 2 rounds, wider (honestly) when rounds are few.
- A ratio between two sweeps (other run, host or interpreter) is **unpaired**: Welch's t
  interval on log times (the ratio of geometric means), as pyperf's compare_to tests means.

A difference is *significant* when its 95% interval excludes 1, it is at least 2%, and (paired
ratios) every round points the same way: with the 3-6 rounds a sweep affords, a t interval
alone would call about one comparison in twenty a win by chance. Only significant
differences are stated as wins; everything else is "indistinguishable on this machine".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from scipy import stats as scipy_stats

CONFIDENCE = 0.95
MIN_ROUNDS_FOR_95 = 6  # [min, max] of n values covers the median with 1 - 2 * 0.5**n


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval and what the interval is."""

    estimate: float
    low: float
    high: float
    confidence: float  # the interval's actual coverage level (nominal for t intervals)
    method: str
    n: int
    # paired ratios only: every round fell on the same side of 1 (a sign-test guard for the
    # few rounds a sweep can afford, where one t interval alone claims too much)
    rounds_agree: bool = True

    @property
    def relative_half_width(self) -> float:
        """The larger side of the interval as a fraction of the estimate (0.05 = +-5%)."""
        if self.estimate <= 0:
            return math.inf
        return max(self.high / self.estimate - 1, 1 - self.low / self.estimate)

    @property
    def attains(self) -> bool:
        """True when the interval reaches the 95% level it is meant to have."""
        return self.confidence >= CONFIDENCE - 1e-9

    def excludes(self, value: float) -> bool:
        return self.low > value or self.high < value

    def scaled(self, factor: float) -> Interval:
        return Interval(
            self.estimate * factor, self.low * factor, self.high * factor,
            self.confidence, self.method, self.n, self.rounds_agree,
        )  # fmt: skip

    def inverted(self) -> Interval:
        """1 / the ratio (its interval's ends swap)."""
        return Interval(
            1 / self.estimate, 1 / self.high, 1 / self.low, self.confidence, self.method, self.n,
            self.rounds_agree,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, unit: str = "", digits: int = 2) -> str:
        """'2.93 s [2.85, 3.10]' (and the level when it is not 95%)."""
        level = "" if self.attains else f", {self.confidence:.0%} interval"
        return (
            f"{self.estimate:.{digits}f}{unit} [{self.low:.{digits}f}, "
            f"{self.high:.{digits}f}{level}]"
        )


def _binomial_coverage(n: int, rank: int) -> float:
    """P(X_(rank) <= median <= X_(n-rank+1)) for n continuous values (1-based rank)."""
    return 1.0 - 2.0 * float(scipy_stats.binom.cdf(rank - 1, n, 0.5))


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The median with a distribution-free order-statistics interval.

    Hettmansperger & Sheather (1986): the widest binomial ranks d with coverage >= the
    level, interpolated toward rank d+1 so the coverage is close to (not far above) it.
    With too few values for the level, [min, max] and its exact (lower) coverage.
    """
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    median = statistics.median(ordered)
    if n == 1:
        return Interval(median, median, median, 0.0, "single value", 1)
    full = _binomial_coverage(n, 1)
    if full < confidence:
        return Interval(median, ordered[0], ordered[-1], full, "min-max (too few rounds)", n)
    rank = 1
    while rank + 1 <= n // 2 and _binomial_coverage(n, rank + 1) >= confidence:
        rank += 1
    outer, inner = _binomial_coverage(n, rank), _binomial_coverage(n, rank + 1)
    low, high = ordered[rank - 1], ordered[n - rank]
    if rank + 1 <= n - rank and outer > inner:
        share = (outer - confidence) / (outer - inner)
        weight = (n - rank) * share / (rank + (n - 2 * rank) * share)
        low = (1 - weight) * low + weight * ordered[rank]
        high = (1 - weight) * high + weight * ordered[n - rank - 1]
    return Interval(median, low, high, confidence, "order statistics (H-S)", n)


def _t_interval_of_logs(logs: Sequence[float], confidence: float, method: str) -> Interval:
    n = len(logs)
    centre = statistics.fmean(logs)
    if n < 2:
        value = math.exp(centre)
        return Interval(value, value, value, 0.0, f"{method} (one round)", n)
    spread = statistics.stdev(logs) / math.sqrt(n)
    quantile = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1))
    return Interval(
        math.exp(centre), math.exp(centre - quantile * spread),
        math.exp(centre + quantile * spread), confidence, method, n,
    )  # fmt: skip


def paired_ratio(
    numerators: Sequence[float], denominators: Sequence[float], confidence: float = CONFIDENCE
) -> Interval:
    """numerator/denominator from values paired by round (same length, same round order).

    E.g. speedup = paired_ratio(sync rounds, method rounds): how many times faster the
    method was than sync, round by round.
    """
    if len(numerators) != len(denominators):
        raise ValueError("paired samples must have the same length")
    logs = [math.log(a / b) for a, b in zip(numerators, denominators, strict=True)]
    if not logs:
        raise ValueError("no values")
    interval = _t_interval_of_logs(logs, confidence, "paired t on log ratios")
    agree = all(value > 0 for value in logs) or all(value < 0 for value in logs)
    return replace(interval, rounds_agree=agree)


def unpaired_ratio(
    numerators: Sequence[float], denominators: Sequence[float], confidence: float = CONFIDENCE
) -> Interval:
    """mean(numerators)/mean(denominators) on the log scale, for independent samples (Welch)."""
    if not numerators or not denominators:
        raise ValueError("no values")
    log_a = [math.log(v) for v in numerators]
    log_b = [math.log(v) for v in denominators]
    n_a, n_b = len(log_a), len(log_b)
    difference = statistics.fmean(log_a) - statistics.fmean(log_b)
    if n_a < 2 or n_b < 2:
        value = math.exp(difference)
        return Interval(value, value, value, 0.0, "Welch t on logs (one round)", min(n_a, n_b))
    var_a = statistics.variance(log_a) / n_a
    var_b = statistics.variance(log_b) / n_b
    spread = math.sqrt(var_a + var_b)
    if spread == 0:
        value = math.exp(difference)
        return Interval(value, value, value, confidence, "Welch t on logs", min(n_a, n_b))
    dof = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    quantile = float(scipy_stats.t.ppf(0.5 + confidence / 2, dof))
    return Interval(
        math.exp(difference), math.exp(difference - quantile * spread),
        math.exp(difference + quantile * spread), confidence, "Welch t on logs",
        min(n_a, n_b),
    )  # fmt: skip


def ratio_between(
    numerators: dict[int, float], denominators: dict[int, float], confidence: float = CONFIDENCE
) -> Interval | None:
    """A ratio between two cells of one sweep, paired on the rounds both have.

    `numerators` and `denominators` map round index -> wall time. None when no round pairs.
    """
    rounds = sorted(set(numerators) & set(denominators))
    if not rounds:
        return None
    return paired_ratio(
        [numerators[r] for r in rounds], [denominators[r] for r in rounds], confidence
    )


# ------------------------------------------------------------------ physical plausibility


def ideal_speedup(method: str, workers: int, cores: int, images: int) -> float:
    """The most a method can gain over sync: min(workers, usable cores, what the batch allows).

    10 images on 8 workers need ceil(10/8) = 2 waves, so at most 10/2 = 5x. `sync` and
    `asyncio`'s event loop thread add nothing beyond their executor; sync's ideal is 1.
    """
    if method == "sync":
        return 1.0
    workers = max(1, workers)
    waves = math.ceil(images / workers) if images > 0 else 1
    batch_limit = images / waves if images > 0 else 1.0
    return float(min(workers, max(cores, 1), batch_limit))


def ideal_weak_efficiency(method: str, workers: int, cores: int) -> float:
    """Weak scaling: w workers on w x k images take as long as 1 worker on k images (1.0)
    while every worker has a core; past the cores, at best cores/w. sync: 1/w."""
    if method == "sync":
        return 1.0 / max(1, workers)
    return min(workers, max(cores, 1)) / max(1, workers)


def weak_efficiency(one_worker_walls: Sequence[float], walls: Sequence[float]) -> Interval:
    """T(1 worker, k images) / T(w workers, w x k images), from two independent groups of
    rounds (different image counts never share a round), so unpaired: Welch t on logs."""
    return unpaired_ratio(one_worker_walls, walls)


def efficiency(speedup: Interval, ideal: float) -> Interval:
    """Speedup divided by the ideal for its cell (1.0 = every usable core fully used)."""
    return speedup.scaled(1 / ideal)


def interval_from_dict(values: dict[str, Any] | None) -> Interval | None:
    """An Interval from its stored dict form (JSON columns), or None."""
    if not values:
        return None
    return Interval(**values)


def rounds_of(walls: Sequence[float], rounds: Sequence[int] | None) -> dict[int, float]:
    """round -> wall time of a stored result (rounds 0..n-1 where none were recorded)."""
    numbers = list(rounds) if rounds else list(range(len(walls)))
    return dict(zip(numbers, walls, strict=False))

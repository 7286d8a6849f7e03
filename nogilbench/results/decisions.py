"""One decision procedure for every comparison the report states.

Every sentence of the report that compares two cells, names a fastest model or a set of
equally good ones goes through this module, so no two sentences can follow different rules.

**The data.** Cells of one group are measured in rounds; a round runs each cell once, close
together in time, so the host's speed state of that moment is shared by the cells of the
round. A comparison of A with B is therefore **paired by round**: the per-round log ratios
log(time B / time A) cancel the shared state, and their mean and standard deviation give a
Student t interval for the ratio of geometric means (the estimate is the geometric mean of
the per-round ratios, which is also the ratio of the two cells' geometric-mean times over
those rounds: print those times beside it, not medians).

**The rule (three outcomes and "cannot tell").** With the ratio's interval [low, high] at the
level its family allows (below) and the practical-equivalence margin of 5%
(EQUIVALENCE_MARGIN: ratios in [1/1.05, 1.05] are "the same" for a reader choosing a model):

- *faster*: the whole interval lies above 1 **and** the estimate lies beyond 1.05;
- *slower*: the mirror image (interval below 1, estimate below 1/1.05);
- *equivalent* ("within 5% of each other"): the whole interval lies inside [1/1.05, 1.05];
- *cannot tell*: anything else (the interval reaches both inside and outside the band).

The outcomes exclude each other (faster needs the estimate outside the band, equivalent the
whole interval inside it). Error rates, per comparison at interval level 1 - a:
P(faster | truly not faster) <= a/2 (the interval's lower end is a one-sided test);
P(equivalent | truly 5% or more apart) <= a/2 (two one-sided tests, TOST, at a/2 each; the
usual TOST at 5% uses a 90% interval, so this is the stricter form). The margin on the
*estimate* keeps "faster" for differences a reader would act on, without the cost of testing
the margin on the interval's end: requiring low > 1.05 (a minimum-effect test) would leave a
true 10% difference undecided for some 20 rounds on a noisy host (per-round SD of a log
ratio 0.08-0.10), while this rule decides it in about 10, and it still never calls a
difference "faster" in the wrong direction more often than a/2. A true difference close to
5% is the one case neither rule can settle quickly: it is reported as "cannot tell", which
a rerun repeats, rather than a coin flip between "faster" and "equivalent".

The old guard "every round points the same way" is dropped: at 3-4 rounds a significant t
implies it, beyond that it only costs power.

**Multiplicity.** A report makes dozens of comparisons; each family of them is controlled at
a family-wise error of 5% (FAMILY_ERROR):

- a family of separate questions (e.g. the build's single-thread cost on each workload):
  Holm's step-down on the paired t p-values, each interval at the level of the step at which
  its comparison was tested (1 - 0.05/m for the smallest p-value, ..., 95% for the last),
  so a comparison Holm rejects has an interval that excludes 1 and one it does not reject
  has one that includes it (`compare_family`);
- the candidates at one point (every model at the headline workers and images): one
  interval per pair at 1 - 0.05/(k - 1) for k candidates (95% for two, 99.2% for seven),
  Bonferroni over the k - 1 comparisons any one candidate takes part in (`leader_set`).
  Any one candidate's comparisons with all the others then hold together with 95%
  confidence, so "free-threaded vs each rival" sentences and "the fastest beat every other"
  are both family-wise claims, and all of them read off the same intervals.

**The leaders** ("comparisons with the best", Hsu 1996, in its Bonferroni form): a candidate
is excluded when some other candidate is *faster* than it by the rule above; the leaders are
the candidates nobody excludes. No best is picked first and then tested, so there is no
selection bias: the truly fastest candidate is excluded only if one of its own k - 1
comparisons errs, which happens with probability <= 0.05 / 2 (each can err only in one
direction). A single winner is declared when exactly one candidate remains; with truly tied
candidates that happens in well under 5% of runs (tests/results/test_decisions.py measures
it under a noisy host's noise). The leaders are "decided" when every pair of them is
equivalent (they are all within 5% of each other): more rounds would not change the advice.

**Anomalies** annotate, never remove: a cell whose speedup over the same method's own
1-worker cell (paired by round) has a lower end above the physical limit
(min(workers, cores, batch); `stats.ideal_speedup`) by more than ANOMALY_MARGIN (10%).
Against the method's own time, a method that does an item 5% faster than sync is not
flagged; the margin leaves room for mild super-linear effects (caches) and the sampling error
of a lower interval end (false flags at a true speedup equal to the limit: well under 2.5%).

Every interval is printed with its level (`interval_text`: "1.76x [1.69, 1.84] (95%)"); the
estimate is the centre of its log-scale interval, so it always lies inside it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

import numpy as np
from scipy import stats as scipy_stats

from nogilbench.results.stats import Interval

EQUIVALENCE_MARGIN = 0.05  # ratios within [1/1.05, 1.05] are "the same" to a reader
FAMILY_ERROR = 0.05  # family-wise error of every family of comparisons
ANOMALY_MARGIN = 0.10  # how far above the physical limit a scaling interval must lie

FASTER, SLOWER, EQUIVALENT, CANNOT_TELL = "faster", "slower", "equivalent", "cannot tell"
OUTCOMES = (FASTER, SLOWER, EQUIVALENT, CANNOT_TELL)
# Codes of the vectorised rule (index into OUTCOMES).
_FASTER, _SLOWER, _EQUIVALENT, _CANNOT_TELL = range(4)

K = TypeVar("K", bound=Hashable)
Rounds = Mapping[int, float]  # round index -> wall time (s) of one cell


# ------------------------------------------------------------------ the rule, vectorised


def critical_t(rounds: int, alpha: float) -> float:
    """The two-sided Student t quantile of an interval at level 1 - alpha (nan below 2 rounds)."""
    if rounds < 2:
        return math.nan
    return float(scipy_stats.t.ppf(1 - alpha / 2, rounds - 1))


def outcome_codes(
    mean: np.ndarray, se: np.ndarray, critical: float | np.ndarray, margin: float
) -> np.ndarray:
    """The rule on log ratios log(time other / time this): codes into OUTCOMES, any shape.

    `mean` and `se` are the mean per-round log ratio and its standard error, `critical` the
    t quantile of the interval's level. A nan (fewer than 2 rounds) gives "cannot tell".
    """
    band = math.log1p(margin)
    with np.errstate(invalid="ignore"):
        low, high = mean - critical * se, mean + critical * se
        faster = (low > 0) & (mean > band)
        slower = (high < 0) & (mean < -band)
        equivalent = (low >= -band) & (high <= band)
    codes = np.full(np.shape(mean), _CANNOT_TELL, dtype=np.int8)
    codes[equivalent] = _EQUIVALENT
    codes[faster] = _FASTER
    codes[slower] = _SLOWER
    return codes


def pair_moments(logs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of log(time j / time i) for every pair, paired by round.

    `logs`: (..., rounds, k) log wall times, one column per candidate. Returns two
    (..., k, k) arrays; entry [i, j] is the comparison "i vs j" (> 0: i is faster).
    """
    rounds = logs.shape[-2]
    differences = logs[..., :, None, :] - logs[..., :, :, None]  # [r, i, j] = log t_j - log t_i
    mean = differences.mean(axis=-3)
    if rounds < 2:
        return mean, np.full_like(mean, np.nan)
    spread = differences.std(axis=-3, ddof=1)
    return mean, spread / math.sqrt(rounds)


def leader_level(candidates: int, alpha: float = FAMILY_ERROR) -> float:
    """The two-sided level of every pairwise interval among `candidates` (1 - a/(k - 1))."""
    return 1 - alpha / max(candidates - 1, 1)


def leader_masks(
    logs: np.ndarray, alpha: float = FAMILY_ERROR, margin: float = EQUIVALENCE_MARGIN
) -> np.ndarray:
    """Which candidates are leaders, for one run or many at once.

    `logs`: (..., rounds, k) log wall times. Returns (..., k) booleans: True where no other
    candidate is *faster* than this one at the family's level (comparisons with the best).
    """
    rounds, k = logs.shape[-2], logs.shape[-1]
    mean, se = pair_moments(logs)
    codes = outcome_codes(mean, se, critical_t(rounds, 1 - leader_level(k, alpha)), margin)
    # codes[..., i, j] == _SLOWER: i is slower than j, so j excludes i
    return ~(codes == _SLOWER).any(axis=-1)


# ------------------------------------------------------------------ one comparison


@dataclass(frozen=True)
class Decision:
    """How `this` compares with `other`, and the paired ratio it was decided on."""

    outcome: str  # one of OUTCOMES, from `this`'s side: "faster" = this is faster
    ratio: Interval  # time(other) / time(this), at the level its family allows
    p_value: float  # paired t test of "no difference" (two-sided, unadjusted)
    margin: float = EQUIVALENCE_MARGIN
    family: int = 1  # comparisons in the family the level accounts for
    adjustment: str = "none"  # "none", "Holm", "Bonferroni", "comparisons with the best"

    @property
    def decided(self) -> bool:
        return self.outcome != CANNOT_TELL

    @property
    def significant(self) -> bool:
        """The interval excludes 1: the direction is known (maybe by less than the margin)."""
        return self.ratio.n >= 2 and self.ratio.excludes(1.0)

    @property
    def level(self) -> float:
        return self.ratio.confidence

    def inverted(self) -> Decision:
        """The same decision from `other`'s side."""
        mirrored = {FASTER: SLOWER, SLOWER: FASTER}.get(self.outcome, self.outcome)
        return replace(self, outcome=mirrored, ratio=self.ratio.inverted())

    def sentence(self, this: str, other: str) -> str:
        """The canonical wording: 'A was 1.76x [1.69, 1.84] (95%) faster than B'."""
        if self.outcome == FASTER:
            return f"{this} was {interval_text(self.ratio)} faster than {other}"
        if self.outcome == SLOWER:
            return f"{this} was {interval_text(self.ratio.inverted())} slower than {other}"
        ratio = f"time ratio {interval_text(self.ratio)}"
        if self.outcome == EQUIVALENT:
            return f"{this} and {other} were within {self.margin:.0%} of each other ({ratio})"
        return f"this run cannot tell {this} and {other} apart ({ratio})"


def _common(*cells: Rounds) -> list[int]:
    shared = set(cells[0])
    for cell in cells[1:]:
        shared &= set(cell)
    return sorted(shared)


def _p_value(mean: float, se: float, rounds: int) -> float:
    if rounds < 2:
        return 1.0
    if se == 0:
        return 0.0 if mean != 0 else 1.0
    return float(2 * scipy_stats.t.sf(abs(mean / se), rounds - 1))


def _decision(
    mean: float, se: float, rounds: int, alpha: float, margin: float, family: int, adjustment: str
) -> Decision:
    critical = critical_t(rounds, alpha)
    code = int(outcome_codes(np.array(mean), np.array(se), critical, margin))
    centre = math.exp(mean)
    if rounds < 2:
        interval = Interval(centre, centre, centre, 0.0, "paired t on log ratios (one round)", 1)
    else:
        method = "paired t on log ratios" + ("" if adjustment == "none" else f", {adjustment}")
        interval = Interval(
            centre, math.exp(mean - critical * se), math.exp(mean + critical * se),
            1 - alpha, method, rounds,
        )  # fmt: skip
    p_value = _p_value(mean, se, rounds)
    return Decision(OUTCOMES[code], interval, p_value, margin, family, adjustment)


def _moments(this: Rounds, other: Rounds) -> tuple[float, float, int]:
    rounds = _common(this, other)
    if not rounds:
        raise ValueError("the two cells share no round: they cannot be paired")
    logs = np.log([[this[r], other[r]] for r in rounds])
    mean, se = pair_moments(logs)
    return float(mean[0, 1]), float(se[0, 1]), len(rounds)


def compare(
    this: Rounds,
    other: Rounds,
    *,
    family: int = 1,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> Decision:
    """`this` vs `other` (round -> wall time each), paired on the rounds both have.

    `family` > 1: one of that many comparisons controlled together by Bonferroni (interval
    at 1 - alpha/family). For a family decided together prefer `compare_family` (Holm).
    """
    mean, se, rounds = _moments(this, other)
    adjustment = "none" if family == 1 else "Bonferroni"
    return _decision(mean, se, rounds, alpha / family, margin, family, adjustment)


def holm_levels(p_values: list[float], alpha: float = FAMILY_ERROR) -> list[float]:
    """Each comparison's alpha under Holm's step-down: alpha/m for the smallest p-value,
    alpha/(m-1) for the next while every earlier one was rejected; from the first one not
    rejected on, all keep that step's alpha (so none of them is rejected)."""
    m = len(p_values)
    levels = [0.0] * m
    stopped: float | None = None
    for step, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        level = stopped if stopped is not None else alpha / (m - step)
        if stopped is None and p_values[index] > level:
            stopped = level
        levels[index] = level
    return levels


def compare_family(
    pairs: Mapping[K, tuple[Rounds, Rounds]],
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> dict[K, Decision]:
    """A family of (this, other) comparisons under Holm's step-down at family-wise `alpha`.

    Each decision's interval is at the level of the Holm step that tested it (stated in
    `Decision.level`), so an interval excludes 1 exactly when Holm rejects "no difference".
    """
    moments = {key: _moments(this, other) for key, (this, other) in pairs.items()}
    keys = list(moments)
    p_values = [_p_value(*moments[key]) for key in keys]
    levels = holm_levels(p_values, alpha)
    adjustment = "none" if len(keys) == 1 else "Holm"
    return {
        key: _decision(*moments[key], level, margin, len(keys), adjustment)
        for key, level in zip(keys, levels, strict=True)
    }


# ------------------------------------------------------------------ the leaders


@dataclass(frozen=True)
class LeaderSet(Generic[K]):
    """The candidates that cannot be excluded from being the fastest, and why."""

    order: tuple[K, ...]  # every candidate, fastest geometric-mean time first
    leaders: tuple[K, ...]  # not excluded by any other candidate, in that order
    level: float  # two-sided level of every pairwise interval: 1 - alpha/(k - 1)
    rounds: int  # rounds every candidate has (the comparisons use these)
    times: dict[K, float]  # geometric-mean wall time over those rounds (consistent with ratios)
    decisions: dict[tuple[K, K], Decision]  # (a, b): a vs b, every ordered pair
    excluded_by: dict[K, K]  # excluded candidate -> the candidate faster than it (widest gap)
    annotations: dict[K, str] = field(default_factory=dict)  # anomalies: shown, never removed
    alpha: float = FAMILY_ERROR
    margin: float = EQUIVALENCE_MARGIN

    @property
    def winner(self) -> K | None:
        """The one candidate left, if only one is: the fastest with 95% confidence."""
        return self.leaders[0] if len(self.leaders) == 1 else None

    @property
    def decided(self) -> bool:
        """Every pair of leaders is within the margin (one leader: trivially)."""
        return all(
            self.decisions[(a, b)].outcome == EQUIVALENT
            for a in self.leaders
            for b in self.leaders
            if a != b
        )

    def decision(self, this: K, other: K) -> Decision:
        """`this` vs `other` on the family's intervals (use these for sentences at this point)."""
        return self.decisions[(this, other)]

    def gap(self, name: K) -> Interval:
        """time(name) / time(the fastest candidate), simultaneous over the family.

        Upper end: the largest upper end of `name` against any other leader (the true fastest
        is a leader with >= 97.5% confidence); lower end: 1, or more if `name` is surely
        slower than someone. Confidence 1 - alpha/2 (each comparison errs one way only).
        """
        others = [leader for leader in self.leaders if leader != name]
        against = [self.decisions[(other, name)].ratio for other in self.order if other != name]
        low = max([1.0, *(ratio.low for ratio in against)])
        high = max([low, *(self.decisions[(other, name)].ratio.high for other in others)])
        centre = self.times[name] / self.times[self.order[0]]
        estimate = min(max(centre, low), high)
        method = f"comparisons with the best ({len(self.order)} candidates, Bonferroni)"
        return Interval(estimate, low, high, 1 - self.alpha / 2, method, self.rounds)


def leader_set(
    candidates: Mapping[K, Rounds],
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
    annotations: Mapping[K, str] | None = None,
) -> LeaderSet[K]:
    """The leaders among `candidates` (name -> round -> wall time), on the rounds all share.

    Anomalies and other notes go in `annotations`: they are carried to the result and never
    change who is a leader.
    """
    if not candidates:
        raise ValueError("no candidates")
    names = list(candidates)
    rounds = _common(*candidates.values())
    if not rounds:
        raise ValueError("the candidates share no round: they cannot be paired")
    logs = np.log([[candidates[name][r] for name in names] for r in rounds])
    k, n = len(names), len(rounds)
    means = logs.mean(axis=0)
    order = [names[i] for i in np.argsort(means, kind="stable")]
    pair_mean, pair_se = pair_moments(logs)
    level = leader_level(k, alpha)
    adjustment = "none" if k <= 2 else "comparisons with the best"
    decisions: dict[tuple[K, K], Decision] = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                decisions[(a, b)] = _decision(
                    float(pair_mean[i, j]), float(pair_se[i, j]), n, 1 - level, margin, k - 1,
                    adjustment,
                )  # fmt: skip
    mask = leader_masks(logs, alpha, margin)
    excluded_by: dict[K, K] = {}
    for i, name in enumerate(names):
        if not mask[i]:
            faster = [
                other
                for other in names
                if other != name and decisions[(other, name)].outcome == FASTER
            ]
            excluded_by[name] = max(faster, key=lambda other: decisions[(other, name)].ratio.low)
    return LeaderSet(
        order=tuple(order),
        leaders=tuple(name for name in order if name not in excluded_by),
        level=level,
        rounds=n,
        times={name: float(math.exp(means[i])) for i, name in enumerate(names)},
        decisions=decisions,
        excluded_by=excluded_by,
        annotations=dict(annotations or {}),
        alpha=alpha,
        margin=margin,
    )


# ------------------------------------------------------------------ anomalies


@dataclass(frozen=True)
class Anomaly:
    """A cell whose scaling over its own 1-worker time is above what the machine allows."""

    scaling: Interval  # time(same method, 1 worker) / time(cell), paired by round
    ideal: float
    margin: float = ANOMALY_MARGIN

    def text(self) -> str:
        return (
            f"its speedup over its own 1-worker time, {interval_text(self.scaling)}, lies "
            f"more than {self.margin:.0%} above the physical limit of {self.ideal:g}x: "
            "a measurement anomaly (shown, not removed)"
        )


def scaling_anomaly(
    one_worker: Rounds,
    cell: Rounds,
    ideal: float,
    *,
    margin: float = ANOMALY_MARGIN,
    alpha: float = FAMILY_ERROR,
) -> Anomaly | None:
    """The anomaly of `cell` against the same method's 1-worker cell (same build, images), or
    None. `ideal` is `stats.ideal_speedup(method, workers, cores, images)`."""
    mean, se, rounds = _moments(cell, one_worker)  # log(time one worker / time cell)
    if rounds < 2:
        return None
    scaling = _decision(mean, se, rounds, alpha, margin, 1, "none").ratio
    if scaling.low > ideal * (1 + margin):
        return Anomaly(scaling, ideal, margin)
    return None


# ------------------------------------------------------------------ text


def level_text(confidence: float) -> str:
    """'95%', '99.2%', '87.5%': the level as a reader sees it."""
    return f"{100 * confidence:.3g}%"


def interval_text(interval: Interval, unit: str = "x", digits: int = 2) -> str:
    """'1.76x [1.69, 1.84] (95%)': every interval with its level."""
    return (
        f"{interval.estimate:.{digits}f}{unit} [{interval.low:.{digits}f}, "
        f"{interval.high:.{digits}f}] ({level_text(interval.confidence)})"
    )


def change_text(interval: Interval, digits: int = 0) -> str:
    """A ratio as a relative change: '+28% [+26%, +30%] (95%)'."""
    return (
        f"{interval.estimate - 1:+.{digits}%} [{interval.low - 1:+.{digits}%}, "
        f"{interval.high - 1:+.{digits}%}] ({level_text(interval.confidence)})"
    )

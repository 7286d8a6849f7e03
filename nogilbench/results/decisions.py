"""One decision procedure for every comparison the report states.

Every sentence of the report that compares two cells, names a fastest model or a set of
equally good ones goes through this module, so no two sentences can follow different rules.

**The data.** Cells of one group are measured in rounds; a round runs each cell once, close
together in time, so the host's speed state of that moment is shared by the cells of the
round. A comparison of A with B is therefore **paired by round**: the per-round log ratios
log(time B / time A) cancel the shared state, and their mean and standard deviation give a
Student t interval for the ratio. Its estimate, the geometric mean of the per-round ratios,
is also the ratio of the two cells' geometric-mean times over those rounds: print those
times beside it (`LeaderSet.times`), not medians, and the numbers agree.

**The rule.** With the ratio's interval [low, high] at the level its family allows (below)
and the practical-equivalence margin of 5% (EQUIVALENCE_MARGIN: ratios in [1/1.05, 1.05]
are "the same" to a reader choosing a model):

- *faster*: the whole interval lies above 1 **and** the estimate lies beyond 1.05;
- *slower*: the mirror image (interval below 1, estimate below 1/1.05);
- *equivalent* ("within 5% of each other"): the whole interval lies inside [1/1.05, 1.05];
- *cannot tell*: anything else.

The outcomes exclude each other (faster needs the estimate outside the band, equivalent the
whole interval inside it). Error rates of one comparison whose interval has level 1 - a:
P(faster | not truly faster) <= a/2, since the interval's lower end is a one-sided test;
P(equivalent | truly 5% or more apart) <= a/2 (two one-sided tests, TOST, each at a/2: the
usual TOST at 5% uses a 90% interval, this is the stricter form). A true difference under
5% that is surely there (e.g. [1.01, 1.04]) reads "equivalent": real, but below what a
reader would act on. The margin is tested on the estimate for "faster" rather than on the
interval's end: on a noisy host (per-round SD of a log ratio 0.09) a true 10% difference
is decided 9 times in 10 after 12 rounds by this rule, but only 8 times in 10 after 30
rounds if low > 1.05 were required (a minimum-effect test); and this rule still calls a
difference in the wrong direction at most a/2 of the time. A true difference close to 5%
cannot be settled quickly by any rule: it stays "cannot tell" until the interval is
narrower than its distance from the band. The old guard "every round points the same way"
is dropped: at 3-4 rounds a significant t implies it, and beyond that it only costs power.

**Multiplicity.** Each family of comparisons is controlled at a family-wise error of 5%
(FAMILY_ERROR) by Holm's step-down on the paired t p-values (valid under any dependence
between the comparisons). Each comparison's interval is at the level of the Holm step that
tested it (1 - 0.05/m for the smallest p-value, ..., 95% for the last one tested), so an
interval excludes 1 exactly when Holm rejects "no difference" for it, and every interval
states its level (`Decision.level`). Directional claims under Holm are known to be
controlled for independent tests (Shaffer 1980); the equivalence claims use the same
intervals, each at level >= 95%.

- `compare_family`: a family of separate questions (e.g. the build's single-thread cost on
  each workload, free-threaded vs each rival).
- `leader_set`: the candidates at one point (every model at the headline workers and
  images): **every pair** of them is one Holm family of k(k-1)/2 comparisons. No best is
  picked first and then tested, so there is no selection bias. Sentences at that point
  (free-threaded vs each rival, "the fastest was ...") read their decisions off the same
  family (`LeaderSet.decision`), so they cannot contradict the set. The leaders are
  *decided* when they are all within the equivalence margin of each other (or there is one).

**The leading tier** ("which model when"). A candidate leaves the set only when another is
faster than it by more than the tier margin of a third (TIER_MARGIN, "33%"): the same Holm
interval above 1, the estimate beyond 1.33. The set is the answer a reader acts on (which
models are worth deploying for this work), so it must come out the same in a rerun; the
finer differences inside it are still stated, each at the 5% margin with its interval (and
as a leaning where a rerun would not repeat it). Why a third: the set changes between runs
whenever a true difference sits near its exclusion margin, and no number of rounds a
15-minute sweep can afford moves that. On 2 cores the choices that matter are 1.5-2x apart
(a model that runs Python in parallel or one that does not: GIL-bound threads were 1.56-1.67x
behind the fastest on two hosts), while the differences among the parallel ones (the
free-threaded build's own single-thread cost, 13-31% across runs and hosts, each model's
overhead) moved between runs by more than their size: sub-interpreters on the free-threaded
build came 15-24% behind the fastest in four runs of the noisy host. A 5% margin put three
pure-python candidates on its edge (reruns agreed 0.24-0.64 of the time, replayed), 25% put
one there (0.3 on the quiet Xeon, 0.48-0.81 on the noisy host); a third falls in the gap
(0.92 at 9-15 rounds). With truly tied candidates a single winner needs an estimate a third
off plus a false "faster": none in the synthetic runs (tests/results/test_decisions.py).

**Anomalies** annotate, never remove (`scaling_anomaly`, passed to `leader_set` as an
annotation): a cell whose speedup over the same method's own 1-worker cell (paired by round)
has a 95% lower end above the physical limit min(workers, cores, batch)
(`stats.ideal_speedup`) by more than ANOMALY_MARGIN (10%). Measured against the method's own
time, a method that does an item 5% faster than sync is not flagged; the margin leaves room
for mild super-linear effects (caches) and keeps false flags at a true speedup equal to the
limit well under 2.5% per cell.

Every interval is printed with its level (`interval_text`: "1.76x [1.69, 1.84] (95%)",
`change_text`: "+28% [+26%, +30%] (95%)"); the estimate is the centre of its log-scale
interval, so it always lies inside it, rounded or not.
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
TIER_MARGIN = 1 / 3  # a candidate leaves the leading tier only when surely slower by more than this
FAMILY_ERROR = 0.05  # family-wise error of every family of comparisons
ANOMALY_MARGIN = 0.10  # how far above the physical limit a scaling interval must lie

FASTER, SLOWER, EQUIVALENT, CANNOT_TELL = "faster", "slower", "equivalent", "cannot tell"
OUTCOMES = (FASTER, SLOWER, EQUIVALENT, CANNOT_TELL)
# A decided outcome a rerun would repeat less often than SETTLED_AGREEMENT (replayed from the
# run's own noise, `results.reproducibility.settle`) is stated as a leaning, not a verdict.
NOT_SETTLED = "not settled"
SETTLED_AGREEMENT = 0.9
# Codes of the vectorised rule (index into OUTCOMES).
_FASTER, _SLOWER, _EQUIVALENT, _CANNOT_TELL = range(4)

K = TypeVar("K", bound=Hashable)
Rounds = Mapping[int, float]  # round index -> wall time (s) of one cell


# ------------------------------------------------------------------ the rule, vectorised


def critical_t(rounds: int, alpha: float | np.ndarray) -> float | np.ndarray:
    """The two-sided Student t quantile of an interval at level 1 - alpha (nan below 2 rounds)."""
    if rounds < 2:
        return np.full(np.shape(alpha), np.nan) if np.ndim(alpha) else math.nan
    quantile = scipy_stats.t.ppf(1 - np.asarray(alpha) / 2, rounds - 1)
    return float(quantile) if np.ndim(quantile) == 0 else quantile


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


def decide(interval: Interval, margin: float = EQUIVALENCE_MARGIN) -> str:
    """The rule on an interval already made, e.g. an unpaired (Welch) ratio between two
    sweeps from `stats.unpaired_ratio`: its `estimate` must be the centre of its log-scale
    interval. The ratio is time(other) / time(this); the outcome is from `this`'s side."""
    if interval.n < 2 or interval.low <= 0:
        return CANNOT_TELL
    mean = math.log(interval.estimate)
    half = (math.log(interval.high) - math.log(interval.low)) / 2
    return OUTCOMES[int(outcome_codes(np.array(mean), np.array(1.0), half, margin))]


def p_values(mean: np.ndarray, se: np.ndarray, rounds: int) -> np.ndarray:
    """Two-sided paired t p-values of "no difference" (1 below 2 rounds; 0 if the rounds
    agree exactly on a non-zero difference)."""
    if rounds < 2:
        return np.ones(np.shape(mean))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.abs(mean) / se
    score = np.where(se > 0, score, np.where(mean != 0, np.inf, 0.0))
    return 2 * scipy_stats.t.sf(score, rounds - 1)


def holm_alphas(p: np.ndarray, alpha: float = FAMILY_ERROR) -> np.ndarray:
    """Each comparison's alpha under Holm's step-down, along the last axis of `p`.

    The smallest p-value is tested at alpha/m, the next at alpha/(m - 1) while every
    earlier one was rejected; from the first one not rejected on, all keep that step's alpha
    (so none of them is rejected). An interval at 1 - its alpha then excludes 1 exactly when
    Holm rejects "no difference" for it.
    """
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ordered = np.take_along_axis(p, order, axis=-1)
    steps = alpha / (m - np.arange(m))
    passed = np.cumprod(ordered <= steps, axis=-1).astype(bool)
    first_failure = np.minimum(passed.sum(axis=-1, keepdims=True), m - 1)
    ordered_alphas = np.where(passed, steps, steps[first_failure])
    alphas = np.empty_like(ordered_alphas)
    np.put_along_axis(alphas, order, ordered_alphas, axis=-1)
    return alphas


def family_alphas(p: np.ndarray, alpha: float, adjustment: str) -> np.ndarray:
    """Per-comparison alphas of a family (last axis of `p`): "holm", "bonferroni", "none"."""
    m = p.shape[-1]
    if adjustment == "holm" and m > 1:
        return holm_alphas(p, alpha)
    if adjustment == "bonferroni":
        return np.full(p.shape, alpha / m)
    if adjustment in ("holm", "none"):
        return np.full(p.shape, alpha)
    raise ValueError(f"unknown adjustment {adjustment!r}: holm, bonferroni or none")


def decide_family(
    mean: np.ndarray,
    se: np.ndarray,
    rounds: int,
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
    adjustment: str = "holm",
) -> tuple[np.ndarray, np.ndarray]:
    """Decide a family of comparisons (last axis), for one run or many at once.

    `mean`, `se`: (..., m) mean per-round log ratio log(time other / time this) and its
    standard error over `rounds` rounds. Returns (codes into OUTCOMES, each comparison's
    alpha): its interval is at level 1 - alpha. Every decision of this module comes from here.
    """
    mean, se = np.asarray(mean, dtype=float), np.asarray(se, dtype=float)
    alphas = family_alphas(p_values(mean, se, rounds), alpha, adjustment)
    return outcome_codes(mean, se, critical_t(rounds, alphas), margin), alphas


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


def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(k, 1)


def leader_family(
    logs: np.ndarray, alpha: float = FAMILY_ERROR, margin: float = EQUIVALENCE_MARGIN
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair i < j of the candidates decided as one Holm family.

    `logs`: (..., rounds, k). Returns (codes, alphas, mean, se), each (..., k(k-1)/2), for
    "i vs j" in the order of numpy's triu_indices(k, 1).
    """
    first, second = _pairs(logs.shape[-1])
    mean, se = pair_moments(logs)
    mean, se = mean[..., first, second], se[..., first, second]
    codes, alphas = decide_family(mean, se, logs.shape[-2], alpha=alpha, margin=margin)
    return codes, alphas, mean, se


def leader_masks(
    logs: np.ndarray, alpha: float = FAMILY_ERROR, tier: float = TIER_MARGIN
) -> np.ndarray:
    """Which candidates are in the leading tier, for one run or many at once.

    `logs`: (..., rounds, k) log wall times. Returns (..., k) booleans: True where no other
    candidate is *faster* than this one by more than `tier` (the interval of their ratio
    above 1 at its Holm level, its estimate beyond 1 + tier), every pair in one Holm family.
    """
    k = logs.shape[-1]
    first, second = _pairs(k)
    codes = leader_family(logs, alpha, tier)[0]
    excluded = np.zeros((*codes.shape[:-1], k), dtype=bool)
    for index, (i, j) in enumerate(zip(first, second, strict=True)):
        excluded[..., i] |= codes[..., index] == _SLOWER
        excluded[..., j] |= codes[..., index] == _FASTER
    return ~excluded


# ------------------------------------------------------------------ one comparison


@dataclass(frozen=True)
class Decision:
    """How `this` compares with `other`, and the paired ratio it was decided on."""

    outcome: str  # one of OUTCOMES, from `this`'s side: "faster" = this is faster
    ratio: Interval  # time(other) / time(this), at the level its family allows
    p_value: float  # paired t test of "no difference" (two-sided, unadjusted)
    margin: float = EQUIVALENCE_MARGIN
    family: int = 1  # comparisons in the family the level accounts for
    adjustment: str = "none"  # "none", "holm" or "bonferroni"
    # how often a rerun would give the same outcome (None: not estimated)
    agreement: float | None = None

    @property
    def decided(self) -> bool:
        return self.outcome != CANNOT_TELL

    @property
    def verdict(self) -> str:
        """What a sentence states: the outcome, or NOT_SETTLED for a decided outcome that a
        rerun would repeat less than 9 times in 10."""
        unsettled = self.agreement is not None and self.agreement < SETTLED_AGREEMENT
        return NOT_SETTLED if self.decided and unsettled else self.outcome

    def rerun_text(self) -> str:
        """'a rerun would repeat it about 6 times in 10' ('' when not estimated)."""
        if self.agreement is None:
            return ""
        return f"a rerun would repeat it about {round(10 * self.agreement)} times in 10"

    def leaning(self, this: str, other: str) -> str:
        """The outcome of this run as a leaning: 'A faster than B by 1.15x [...] (99%)'."""
        if self.outcome == FASTER:
            return f"{this} faster than {other} by {interval_text(self.ratio)}"
        if self.outcome == SLOWER:
            return f"{this} slower than {other} by {interval_text(self.ratio.inverted())}"
        return (
            f"{this} and {other} within {self.margin:.0%} of each other (time ratio "
            f"{interval_text(self.ratio)})"
        )

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
        if self.verdict == NOT_SETTLED:
            return (
                f"this run leans to {self.leaning(this, other)}, not settled: {self.rerun_text()}"
            )
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


def _decision(
    code: int, mean: float, se: float, rounds: int, alpha: float, margin: float, family: int,
    adjustment: str,
) -> Decision:  # fmt: skip
    """A Decision object from one entry of `decide_family`'s arrays."""
    centre = math.exp(mean)
    if rounds < 2:
        interval = Interval(centre, centre, centre, 0.0, "paired t on log ratios (one round)", 1)
    else:
        critical = float(critical_t(rounds, alpha))
        shown = "" if adjustment == "none" or family == 1 else f", {adjustment} over {family}"
        interval = Interval(
            centre, math.exp(mean - critical * se), math.exp(mean + critical * se),
            1 - alpha, f"paired t on log ratios{shown}", rounds,
        )  # fmt: skip
    p_value = float(p_values(np.array(mean), np.array(se), rounds))
    used = "none" if family == 1 else adjustment
    return Decision(OUTCOMES[code], interval, p_value, margin, family, used)


def paired_moments(this: Rounds, other: Rounds) -> tuple[float, float, int]:
    """(mean, standard error, rounds) of log(time other / time this) per round, paired on the
    rounds both cells have."""
    rounds = _common(this, other)
    if not rounds:
        raise ValueError("the two cells share no round: they cannot be paired")
    logs = np.log([[this[r], other[r]] for r in rounds])
    mean, se = pair_moments(logs)
    return float(mean[0, 1]), float(se[0, 1]), len(rounds)


def compare_family(
    pairs: Mapping[K, tuple[Rounds, Rounds]],
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
    adjustment: str = "holm",
) -> dict[K, Decision]:
    """A family of (this, other) comparisons, each paired on the rounds both cells have,
    controlled together at family-wise `alpha` (Holm's step-down unless told otherwise).

    Each decision's interval is at the level of the Holm step that tested it (stated in
    `Decision.level`), so an interval excludes 1 exactly when Holm rejects "no difference".
    The comparisons may have different numbers of rounds; each is tested on its own.
    """
    keys = list(pairs)
    if not keys:
        return {}
    moments = [paired_moments(*pairs[key]) for key in keys]
    p = np.array([float(p_values(np.array(m), np.array(s), n)) for m, s, n in moments])
    alphas = family_alphas(p, alpha, adjustment)
    decisions = {}
    for key, (mean, se, rounds), level in zip(keys, moments, alphas, strict=True):
        code = int(outcome_codes(np.array(mean), np.array(se), critical_t(rounds, level), margin))
        decisions[key] = _decision(
            code, mean, se, rounds, float(level), margin, len(keys), adjustment
        )
    return decisions


def compare(
    this: Rounds,
    other: Rounds,
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
) -> Decision:
    """`this` vs `other` (round -> wall time each), paired on the rounds both have: a family
    of one. Several comparisons stated together belong in `compare_family`."""
    return compare_family({0: (this, other)}, alpha=alpha, margin=margin)[0]


# ------------------------------------------------------------------ the leaders


@dataclass(frozen=True)
class LeaderSet(Generic[K]):
    """The leading tier: the candidates no other one is surely faster than by more than the
    tier margin, and why; with every pair's decision at the equivalence margin."""

    order: tuple[K, ...]  # every candidate, fastest geometric-mean time first
    leaders: tuple[K, ...]  # the leading tier: not excluded by any other candidate, in order
    rounds: int  # rounds every candidate has (the comparisons use these)
    times: dict[K, float]  # geometric-mean wall time over those rounds (consistent with ratios)
    decisions: dict[tuple[K, K], Decision]  # (a, b): a vs b, every ordered pair, one family
    excluded_by: dict[K, K]  # excluded candidate -> the candidate surest to be faster than it
    annotations: dict[K, str] = field(default_factory=dict)  # anomalies: shown, never removed
    alpha: float = FAMILY_ERROR
    margin: float = EQUIVALENCE_MARGIN
    tier: float = TIER_MARGIN
    # (a, b): a is faster than b by more than the tier margin (what excludes b)
    beyond_tier: frozenset[tuple[K, K]] = frozenset()

    @property
    def winner(self) -> K | None:
        """The one candidate left, if only one is. Every other was shown slower than some
        candidate by more than the tier margin, so a wrong winner needs a false "faster" in
        the family: it is the fastest with 95% family-wise confidence (though not necessarily
        "faster" than each other one by itself: read those from `decision`)."""
        return self.leaders[0] if len(self.leaders) == 1 else None

    def beats(self, this: K, other: K) -> bool:
        """`this` is faster than `other` by more than the tier margin (the exclusion rule)."""
        return (this, other) in self.beyond_tier

    @property
    def decided(self) -> bool:
        """One winner, or every pair of leaders within the margin: more rounds would not
        change the advice."""
        return all(
            self.decisions[(a, b)].outcome == EQUIVALENT
            for a in self.leaders
            for b in self.leaders
            if a != b
        )

    @property
    def family(self) -> int:
        """The number of comparisons the family controls: every pair of candidates."""
        return len(self.order) * (len(self.order) - 1) // 2

    def decision(self, this: K, other: K) -> Decision:
        """`this` vs `other` on the family's intervals (use these for sentences at this point)."""
        return self.decisions[(this, other)]

    def behind_fastest(self, name: K) -> Decision:
        """The observed fastest vs `name`: its ratio is time(name) / time(fastest). The
        fastest is only the reference shown; who leads never depends on it."""
        if name == self.order[0]:
            raise ValueError(f"{name!r} is the observed fastest itself")
        return self.decisions[(self.order[0], name)]


def leader_set(
    candidates: Mapping[K, Rounds],
    *,
    alpha: float = FAMILY_ERROR,
    margin: float = EQUIVALENCE_MARGIN,
    tier: float = TIER_MARGIN,
    annotations: Mapping[K, str] | None = None,
) -> LeaderSet[K]:
    """The leading tier among `candidates` (name -> round -> wall time), on the rounds all
    share: a candidate leaves it when another is faster than it by more than `tier`; every
    pair's decision (for sentences) is at the equivalence `margin`, on the same intervals.

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
    codes, alphas, mean, se = leader_family(logs, alpha, margin)
    decisions: dict[tuple[K, K], Decision] = {}
    for index, (i, j) in enumerate(zip(*_pairs(k), strict=True)):
        found = _decision(
            int(codes[index]), float(mean[index]), float(se[index]), n, float(alphas[index]),
            margin, k * (k - 1) // 2, "holm",
        )  # fmt: skip
        decisions[(names[i], names[j])] = found
        decisions[(names[j], names[i])] = found.inverted()
    tier_codes = decide_family(mean, se, n, alpha=alpha, margin=tier)[0]
    beyond_tier: set[tuple[K, K]] = set()
    for index, (i, j) in enumerate(zip(*_pairs(k), strict=True)):
        if tier_codes[index] == _FASTER:
            beyond_tier.add((names[i], names[j]))
        elif tier_codes[index] == _SLOWER:
            beyond_tier.add((names[j], names[i]))
    excluded_by: dict[K, K] = {}
    for name in names:
        faster = [other for other in names if (other, name) in beyond_tier]
        if faster:
            excluded_by[name] = max(faster, key=lambda other: decisions[(other, name)].ratio.low)
    return LeaderSet(
        order=tuple(order),
        leaders=tuple(name for name in order if name not in excluded_by),
        rounds=n,
        times={name: float(math.exp(means[i])) for i, name in enumerate(names)},
        decisions=decisions,
        excluded_by=excluded_by,
        annotations=dict(annotations or {}),
        alpha=alpha,
        margin=margin,
        tier=tier,
        beyond_tier=frozenset(beyond_tier),
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
    mean, se, rounds = paired_moments(cell, one_worker)  # log(time one worker / time cell)
    if rounds < 2:
        return None
    scaling = _decision(_CANNOT_TELL, mean, se, rounds, alpha, margin, 1, "none").ratio
    if scaling.low > ideal * (1 + margin):
        return Anomaly(scaling, ideal, margin)
    return None


# ------------------------------------------------------------------ text


def level_text(confidence: float) -> str:
    """'95%', '99.2%', '87.5%': the level as a reader sees it."""
    return f"{100 * confidence:.3g}%"


UNBOUNDED = 100.0  # an interval spanning more than this factor says nothing worth printing


def _unbounded(interval: Interval) -> bool:
    return interval.low <= 0 or interval.high / interval.low > UNBOUNDED


def interval_text(interval: Interval, unit: str = "x", digits: int = 2) -> str:
    """'1.76x [1.69, 1.84] (95%)': every interval with its level ('[no usable interval at 2
    rounds]' when the rounds are too few for the level asked)."""
    if _unbounded(interval):
        return (
            f"{interval.estimate:.{digits}f}{unit} [no usable interval at {interval.n} rounds] "
            f"({level_text(interval.confidence)})"
        )
    return (
        f"{interval.estimate:.{digits}f}{unit} [{interval.low:.{digits}f}, "
        f"{interval.high:.{digits}f}] ({level_text(interval.confidence)})"
    )


def change_text(interval: Interval, digits: int = 0) -> str:
    """A ratio as a relative change: '+28% [+26%, +30%] (95%)'."""
    if _unbounded(interval):
        return (
            f"{interval.estimate - 1:+.{digits}%} [no usable interval at {interval.n} rounds] "
            f"({level_text(interval.confidence)})"
        )
    return (
        f"{interval.estimate - 1:+.{digits}%} [{interval.low - 1:+.{digits}%}, "
        f"{interval.high - 1:+.{digits}%}] ({level_text(interval.confidence)})"
    )

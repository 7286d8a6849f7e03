"""The interval code against known distributions, significance calls and plausibility."""

from __future__ import annotations

import math
import random

import pytest

from nogilbench.results import stats


def _coverage(make_interval, draw, truth: float, trials: int = 2000) -> float:  # type: ignore[no-untyped-def]
    rng = random.Random(12345)
    hits = 0
    for _ in range(trials):
        interval = make_interval(rng, draw)
        hits += interval.low <= truth <= interval.high
    return hits / trials


@pytest.mark.parametrize("n", [8, 15, 30])
def test_median_interval_covers_the_true_median_about_95_percent(n: int) -> None:
    # Lognormal timings (right-skewed, like a noisy host): true median = exp(mu).
    mu, sigma = math.log(2.0), 0.2

    def make(rng: random.Random, _draw: object) -> stats.Interval:
        return stats.median_interval([rng.lognormvariate(mu, sigma) for _ in range(n)])

    coverage = _coverage(make, None, math.exp(mu))
    assert 0.925 <= coverage <= 0.985, coverage


def test_median_interval_with_few_rounds_says_its_lower_level() -> None:
    interval = stats.median_interval([3.0, 1.0, 2.0])
    assert (interval.low, interval.estimate, interval.high) == (1.0, 2.0, 3.0)
    assert interval.confidence == pytest.approx(0.75)
    assert not interval.attains
    assert "75% interval" in interval.text(" s")


@pytest.mark.parametrize("n", [3, 5, 10])
def test_paired_ratio_covers_the_true_ratio_about_95_percent(n: int) -> None:
    # Each round has a shared host-speed factor (drift) that pairing cancels.
    true_ratio = 1.8

    def make(rng: random.Random, _draw: object) -> stats.Interval:
        base, method = [], []
        for _ in range(n):
            host = rng.lognormvariate(0, 0.3)
            base.append(host * 4.0 * rng.lognormvariate(0, 0.05))
            method.append(host * 4.0 / true_ratio * rng.lognormvariate(0, 0.05))
        return stats.paired_ratio(base, method)

    coverage = _coverage(make, None, true_ratio)
    assert 0.925 <= coverage <= 0.975, coverage


@pytest.mark.parametrize(("n_a", "n_b"), [(3, 3), (5, 8), (12, 12)])
def test_unpaired_ratio_covers_the_true_ratio_about_95_percent(n_a: int, n_b: int) -> None:
    true_ratio = 1.25

    def make(rng: random.Random, _draw: object) -> stats.Interval:
        a = [true_ratio * rng.lognormvariate(0, 0.1) for _ in range(n_a)]
        b = [rng.lognormvariate(0, 0.15) for _ in range(n_b)]
        return stats.unpaired_ratio(a, b)

    coverage = _coverage(make, None, true_ratio)
    assert 0.925 <= coverage <= 0.975, coverage


def test_verdict_needs_the_interval_to_exclude_one() -> None:
    tie = stats.paired_ratio([1.00, 1.02, 0.99], [1.01, 1.00, 1.00])
    assert stats.verdict(tie).verdict == "indistinguishable"
    clear = stats.paired_ratio([2.0, 2.1, 1.95], [1.0, 1.02, 0.99])
    assert stats.verdict(clear).verdict == "faster"
    assert stats.verdict(stats.paired_ratio([1.0, 1.0, 1.01], [2.0, 2.1, 1.9])).verdict == "slower"


def test_unpaired_significance_of_a_real_and_of_no_difference() -> None:
    same_a = [1.00, 1.04, 0.97, 1.02, 0.99, 1.01]
    same_b = [1.01, 0.98, 1.03, 1.00, 0.96, 1.02]
    assert not stats.verdict(stats.unpaired_ratio(same_a, same_b)).significant
    # Significant but tiny (1%): a host's drift, never stated as a win.
    tight = [1.0, 1.0001, 0.9999]
    assert not stats.verdict(stats.unpaired_ratio([v * 1.01 for v in tight], tight)).significant
    slower = [value * 1.3 for value in same_b]
    assert stats.verdict(stats.unpaired_ratio(slower, same_a)).verdict == "faster"


def test_ideal_speedup_is_bounded_by_workers_cores_and_the_batch() -> None:
    assert stats.ideal_speedup("threading", 8, 16, 10) == 5.0  # 10 images: 2 waves of 8
    assert stats.ideal_speedup("threading", 8, 2, 10) == 2.0
    assert stats.ideal_speedup("multiprocessing", 4, 16, 100) == 4.0
    assert stats.ideal_speedup("sync", 8, 16, 100) == 1.0


def test_an_impossible_speedup_is_an_anomaly() -> None:
    impossible = stats.paired_ratio([6.0, 6.9, 6.5], [2.5, 2.8, 2.6])
    assert impossible.low > 2
    assert stats.is_anomaly(impossible, stats.ideal_speedup("free-threaded", 2, 2, 100))
    fine = stats.paired_ratio([6.0, 6.9, 6.5], [3.2, 3.6, 3.3])
    assert not stats.is_anomaly(fine, 2.0)


def test_rounds_that_disagree_are_never_a_win() -> None:
    # Two rounds say A is much faster, one says it is slower: not a finding.
    mixed = stats.paired_ratio([2.0, 2.1, 0.9], [1.0, 1.0, 1.0])
    assert not mixed.rounds_agree
    assert stats.verdict(mixed).verdict == "indistinguishable"
    assert stats.paired_ratio([2.0, 2.1, 1.9], [1.0, 1.0, 1.0]).rounds_agree

from __future__ import annotations

import numpy as np

from tradebrain.backtest.bootstrap import (
    bootstrap,
    information_ratio,
    mean,
    mean_plus_variance,
    paired_difference,
    value_at_risk,
    win_rate,
)


def test_mean_interval_covers_the_truth_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(0)
    covered = 0
    trials = 60
    for trial in range(trials):
        sample = rng.normal(3.0, 2.0, size=200)
        estimate = bootstrap(mean, sample, resamples=500, seed=trial)
        covered += estimate.low <= 3.0 <= estimate.high
    # 95% nominal; with 60 trials, fewer than 50 covered would be very unlikely (p < 0.01).
    assert covered >= 50


def test_interval_width_matches_the_standard_error() -> None:
    sample = np.random.default_rng(1).normal(0.0, 1.0, size=2000)
    estimate = bootstrap(mean, sample, seed=0)
    standard_error = sample.std(ddof=1) / np.sqrt(sample.size)
    np.testing.assert_allclose(estimate.high - estimate.low, 2 * 1.96 * standard_error, rtol=0.15)
    assert estimate.value == sample.mean()


def test_paired_difference_keeps_the_pairing() -> None:
    rng = np.random.default_rng(2)
    common = rng.normal(0.0, 100.0, size=500)
    first, second = common + 1.0, common  # differ by exactly 1 on every pair
    estimate = bootstrap(paired_difference(mean), first, second, seed=0)
    assert abs(estimate.value - 1.0) < 1e-12
    assert estimate.excludes_zero()
    assert estimate.high - estimate.low < 1e-9


def test_statistics_by_hand() -> None:
    sample = np.array([1.0, -2.0, 3.0, 4.0])
    assert mean_plus_variance(0.5)(sample) == sample.mean() + 0.5 * sample.var(ddof=1)
    assert information_ratio(sample) == sample.mean() / sample.std(ddof=1)
    assert win_rate(sample) == 0.75
    assert value_at_risk(0.05)(np.arange(101.0) - 50) == 45.0


def test_constant_sample_gives_a_point_interval() -> None:
    estimate = bootstrap(mean, np.full(100, 7.0))
    assert (estimate.value, estimate.low, estimate.high) == (7.0, 7.0, 7.0)

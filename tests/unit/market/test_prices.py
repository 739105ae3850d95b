"""Price-path kernels: seeded moment checks, tolerances from the sampling error (Z standard errors)."""

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.market.config import PriceProcessConfig
from tradebrain.market.prices import PROCESSES, unaffected_paths

PATHS = 20_000
Z = 4.5
"""Standard errors allowed: a false alarm has probability below 1e-5 per check."""


def normals(seed: int, width: int, paths: int = PATHS) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((paths, width))


def assert_mean(sample: np.ndarray, expected: float, standard_error: float) -> None:
    """Sample mean within Z standard errors of `expected`."""
    mean = float(np.mean(sample))
    assert abs(mean - expected) < Z * standard_error, (mean, expected, standard_error)


def assert_variance(sample: np.ndarray, expected: float) -> None:
    """Sample variance within Z standard errors sqrt((m4 - s^4)/n) of `expected` (iid sample)."""
    centred = sample - sample.mean()
    variance = float(np.mean(centred**2))
    m4 = float(np.mean(centred**4))
    standard_error = np.sqrt((m4 - variance**2) / sample.size)
    assert abs(variance - expected) < Z * standard_error, (variance, expected, standard_error)


@pytest.mark.parametrize("process", PROCESSES)
def test_arrival_equals_s0_exactly(process: str) -> None:
    extra = {"ou": {"ou_theta": 0.7}, "abm": {"drift": 0.4}, "gbm": {"drift": 2.0}}.get(process, {})
    market = PriceProcessConfig(process=process, s0=37.25, sigma=3.0, lookback=6, **extra)
    paths = unaffected_paths(market, 0.25, 10, normals(1, 16, paths=500))
    assert paths.shape == (500, 17)
    assert np.all(paths[:, 6] == 37.25)
    assert np.all(np.isfinite(paths))
    assert np.unique(paths[:, 7]).size == 500  # the future is random, only the arrival is pinned


def test_abm_increments_are_exactly_the_scaled_normals() -> None:
    market = PriceProcessConfig(process="abm", sigma=2.0, drift=0.3, lookback=4)
    tau = 0.5
    noise = normals(2, 12, paths=100)
    paths = unaffected_paths(market, tau, 8, noise)
    expected = 0.3 * tau + 2.0 * np.sqrt(tau) * noise
    np.testing.assert_allclose(np.diff(paths, axis=1), expected, rtol=0, atol=1e-12)


def test_abm_increment_moments() -> None:
    market = PriceProcessConfig(process="abm", sigma=2.0, drift=0.3, lookback=4)
    tau = 0.5
    increments = np.diff(unaffected_paths(market, tau, 8, normals(3, 12)), axis=1)
    # increments are iid N(drift*tau, sigma^2*tau)
    sd = 2.0 * np.sqrt(tau)
    assert_mean(increments, 0.3 * tau, sd / np.sqrt(increments.size))
    assert_variance(increments, sd**2)


def test_gbm_log_increment_moments() -> None:
    s0, sigma, drift, tau = 50.0, 10.0, 5.0, 1.0
    market = PriceProcessConfig(process="gbm", s0=s0, sigma=sigma, drift=drift, lookback=4)
    log_increments = np.diff(np.log(unaffected_paths(market, tau, 8, normals(4, 12))), axis=1)
    vol, mu = sigma / s0, drift / s0
    # Ito: log increments are iid N((mu - vol^2/2) tau, vol^2 tau); vol^2/2 = 0.02 is ~40 standard errors
    assert_mean(log_increments, (mu - vol**2 / 2) * tau, vol * np.sqrt(tau) / np.sqrt(log_increments.size))
    assert_variance(log_increments, vol**2 * tau)
    assert np.all(unaffected_paths(market, tau, 8, normals(5, 12, paths=200)) > 0)


@pytest.mark.parametrize("j", [1, 2, 4, 8])
def test_ou_deviation_variance_after_j_steps(j: int) -> None:
    theta, sigma, tau, lookback, steps = 0.8, 1.5, 0.5, 8, 8
    market = PriceProcessConfig(process="ou", s0=20.0, sigma=sigma, ou_theta=theta, lookback=lookback)
    paths = unaffected_paths(market, tau, steps, normals(6, lookback + steps))
    expected = sigma**2 * (1 - np.exp(-2 * theta * tau * j)) / (2 * theta)
    for deviation in (paths[:, lookback + j] - 20.0, paths[:, lookback - j] - 20.0):  # future, history
        assert_mean(deviation, 0.0, np.sqrt(expected / PATHS))
        # deviations are Gaussian: the standard error of the variance is expected*sqrt(2/n)
        variance = float(np.mean(deviation**2))
        assert abs(variance - expected) < Z * expected * np.sqrt(2 / PATHS), (variance, expected)


def test_ou_reverts_to_the_mean() -> None:
    theta, sigma, tau = 0.8, 1.5, 0.5
    market = PriceProcessConfig(process="ou", s0=20.0, sigma=sigma, ou_theta=theta, lookback=4)
    paths = unaffected_paths(market, tau, 8, normals(7, 12))
    now, later = paths[:, 6] - 20.0, paths[:, 7] - 20.0
    # E[later | now] = e^{-theta tau} now: regression slope within Z standard errors
    slope = float(np.sum(now * later) / np.sum(now**2))
    residual = later - slope * now
    standard_error = float(np.sqrt(np.mean(residual**2) / np.sum(now**2)))
    assert abs(slope - np.exp(-theta * tau)) < Z * standard_error


def garch_squared_increments(alpha: float, beta: float, seed: int) -> np.ndarray:
    market = PriceProcessConfig(process="garch", sigma=1.2, garch_alpha=alpha, garch_beta=beta, lookback=4)
    return np.diff(unaffected_paths(market, 1.0, 16, normals(seed, 20)), axis=1) ** 2


def test_garch_unconditional_variance() -> None:
    squares = garch_squared_increments(0.1, 0.85, 8)
    # increments of one path are dependent: use per-path means (iid across paths) for the error
    per_path = squares.mean(axis=1)
    assert_mean(per_path, 1.2**2 * 1.0, per_path.std() / np.sqrt(PATHS))


def lag1_autocovariance_z(squares: np.ndarray) -> float:
    """z-score of the lag-1 autocovariance of squared increments, the error taken across paths."""
    centred = squares - squares.mean()
    per_path = (centred[:, 1:] * centred[:, :-1]).mean(axis=1)
    return float(per_path.mean() / (per_path.std() / np.sqrt(per_path.size)))


def test_garch_squared_increments_are_autocorrelated() -> None:
    assert lag1_autocovariance_z(garch_squared_increments(0.1, 0.85, 9)) > Z


def test_garch_without_alpha_has_no_volatility_clustering() -> None:
    assert abs(lag1_autocovariance_z(garch_squared_increments(0.0, 0.6, 10))) < Z


@pytest.mark.parametrize("shape", [(10, 11), (10, 13), (12,), (2, 3, 12)])
def test_normals_shape_is_validated(shape: tuple[int, ...]) -> None:
    market = PriceProcessConfig(lookback=4)
    with pytest.raises(ValueError, match=r"normals must have shape \(episodes, 12\)"):
        unaffected_paths(market, 1.0, 8, np.zeros(shape))


def test_same_normals_same_paths() -> None:
    market = PriceProcessConfig(process="garch")
    noise = normals(11, 9, paths=50)
    np.testing.assert_array_equal(unaffected_paths(market, 1.0, 5, noise), unaffected_paths(market, 1.0, 5, noise))

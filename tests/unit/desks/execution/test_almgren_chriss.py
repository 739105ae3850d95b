"""Almgren-Chriss closed forms: the discrete kappa, the optimal schedule, E and V by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradebrain.core.errors import InputError
from tradebrain.desks.execution.almgren_chriss import (
    immediate_holdings,
    kappa_approx,
    kappa_exact,
    optimal_holdings,
    profile_holdings,
    schedule_moments,
    twap_holdings,
)
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig, eta_tilde

DEFAULTS = MarketConfig()
NO_SPREAD = MarketConfig(epsilon=0.0)  # sum|n| is not smooth: perturbation tests use epsilon = 0
LAMBDAS = [1e-8, 1e-7, 1e-6, 1e-5]


@pytest.mark.parametrize("steps", [1, 5, 50, 5000])
@pytest.mark.parametrize("risk_aversion", LAMBDAS)
def test_kappa_exact_solves_the_discrete_equation(risk_aversion: float, steps: int) -> None:
    task = LiquidationTask(steps=steps)
    kappa = kappa_exact(DEFAULTS, task, risk_aversion)
    tau = task.tau
    rhs = risk_aversion * DEFAULTS.sigma**2 / eta_tilde(DEFAULTS, task)
    # (2/tau^2)(cosh(kappa tau) - 1) = (2/tau sinh(kappa tau/2))^2, the form without cancellation
    assert abs((2 / tau * math.sinh(kappa * tau / 2)) ** 2 - rhs) <= 1e-12 * rhs
    if steps <= 50:  # literally, while cosh(kappa tau) - 1 keeps 12 digits in float64
        assert abs(2 / tau**2 * (math.cosh(kappa * tau) - 1) - rhs) <= 1e-12 * rhs


def test_kappa_is_zero_without_risk_aversion() -> None:
    assert kappa_exact(DEFAULTS, LiquidationTask(), 0.0) == 0.0
    assert kappa_approx(DEFAULTS, LiquidationTask(), 0.0) == 0.0


def test_kappa_approx_is_wrong_on_a_coarse_grid_and_right_on_a_fine_one() -> None:
    coarse, fine = LiquidationTask(steps=5), LiquidationTask(steps=5000)
    coarse_gap = abs(kappa_exact(DEFAULTS, coarse, 1e-6) / kappa_approx(DEFAULTS, coarse, 1e-6) - 1)
    fine_gap = abs(kappa_exact(DEFAULTS, fine, 1e-6) / kappa_approx(DEFAULTS, fine, 1e-6) - 1)
    assert coarse_gap > 0.01
    assert fine_gap < 0.001


@pytest.mark.parametrize("steps", [1, 5, 40])
@pytest.mark.parametrize("risk_aversion", [*LAMBDAS, 1e-2, 1.0])
def test_optimal_holdings_shape(risk_aversion: float, steps: int) -> None:
    task = LiquidationTask(steps=steps)
    holdings = optimal_holdings(DEFAULTS, task, risk_aversion)
    assert holdings.shape == (steps + 1,)
    assert np.all(np.isfinite(holdings))
    assert holdings[0] == pytest.approx(task.shares, rel=1e-12)
    assert holdings[-1] == 0.0
    assert np.all(np.diff(holdings) < 0)


@pytest.mark.parametrize("steps", [5, 40])
def test_optimal_holdings_front_load_with_risk_aversion(steps: int) -> None:
    task = LiquidationTask(steps=steps)
    twap = twap_holdings(task)
    np.testing.assert_allclose(optimal_holdings(DEFAULTS, task, 0.0), twap, rtol=1e-15, atol=0)
    previous = twap
    for risk_aversion in LAMBDAS:
        holdings = optimal_holdings(DEFAULTS, task, risk_aversion)
        assert np.all(holdings[1:-1] < previous[1:-1])  # more urgency, less held at every interior time
        previous = holdings


def test_optimal_holdings_match_the_sinh_formula() -> None:
    task = LiquidationTask()
    kappa = kappa_exact(DEFAULTS, task, 1e-6)
    times = np.arange(task.steps + 1) * task.tau
    expected = task.shares * np.sinh(kappa * (task.horizon - times)) / np.sinh(kappa * task.horizon)
    np.testing.assert_allclose(optimal_holdings(DEFAULTS, task, 1e-6), expected, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("steps", [2, 5, 20])
@pytest.mark.parametrize("risk_aversion", LAMBDAS)
def test_optimal_holdings_minimise_the_objective(risk_aversion: float, steps: int) -> None:
    task = LiquidationTask(steps=steps)
    holdings = optimal_holdings(NO_SPREAD, task, risk_aversion)
    best = schedule_moments(NO_SPREAD, task, holdings).objective(risk_aversion)
    # the objective is quadratic in x_j: at the optimum (zero gradient) moving x_j by d costs exactly
    # d^2*(2*eta_tilde/tau + lambda*sigma^2*tau); a wrong kappa leaves a linear term of either sign.
    curvature = 2 * eta_tilde(NO_SPREAD, task) / task.tau + risk_aversion * NO_SPREAD.sigma**2 * task.tau
    for j in range(1, steps):
        for d in (-1e3, 1e3, -1e4, 1e4):
            moved = holdings.copy()
            moved[j] += d
            increase = schedule_moments(NO_SPREAD, task, moved).objective(risk_aversion) - best
            assert increase > 0
            assert increase == pytest.approx(d * d * curvature, rel=1e-6)


def test_optimum_beats_twap_and_immediate() -> None:
    task = LiquidationTask()
    for risk_aversion in LAMBDAS:
        optimum = schedule_moments(DEFAULTS, task, optimal_holdings(DEFAULTS, task, risk_aversion))
        for other in (twap_holdings(task), immediate_holdings(task)):
            assert optimum.objective(risk_aversion) < schedule_moments(DEFAULTS, task, other).objective(risk_aversion)


def test_twap_moments_by_hand() -> None:
    # E = gamma X^2/2 + epsilon X + eta_tilde/tau * 5 * (2e5)^2 = 125000 + 62500 + 475000
    # V = sigma^2 tau (8e5^2 + 6e5^2 + 4e5^2 + 2e5^2)
    task = LiquidationTask()
    moments = schedule_moments(DEFAULTS, task, twap_holdings(task))
    assert moments.expected == pytest.approx(662_500.0, rel=1e-12)
    assert moments.variance == pytest.approx(0.9025 * (8e5**2 + 6e5**2 + 4e5**2 + 2e5**2), rel=1e-12)
    assert moments.objective(1e-6) == pytest.approx(662_500.0 + 1e-6 * 0.9025 * 1.2e12, rel=1e-12)


def test_immediate_moments_by_hand() -> None:
    task = LiquidationTask()
    moments = schedule_moments(DEFAULTS, task, immediate_holdings(task))
    assert moments.expected == pytest.approx(125_000 + 62_500 + 2.375e-6 * 1e12, rel=1e-12)
    assert moments.variance == 0.0


def test_drift_term_is_signed_by_side() -> None:
    market = MarketConfig(drift=0.1)
    sell, buy = LiquidationTask(side="sell"), LiquidationTask(side="buy")
    holdings = twap_holdings(sell)
    carried = 0.1 * 1.0 * holdings[1:].sum()
    base = schedule_moments(DEFAULTS, sell, holdings).expected
    assert schedule_moments(market, sell, holdings).expected == pytest.approx(base - carried, rel=1e-12)
    assert schedule_moments(market, buy, holdings).expected == pytest.approx(base + carried, rel=1e-12)


def test_twap_and_immediate_holdings() -> None:
    task = LiquidationTask(shares=100.0, steps=4)
    np.testing.assert_array_equal(twap_holdings(task), [100.0, 75.0, 50.0, 25.0, 0.0])
    np.testing.assert_array_equal(immediate_holdings(task), [100.0, 0.0, 0.0, 0.0, 0.0])


def test_profile_holdings() -> None:
    task = LiquidationTask(shares=100.0, steps=4)
    np.testing.assert_allclose(profile_holdings(task, np.ones(4)), twap_holdings(task), rtol=1e-15)
    np.testing.assert_array_equal(profile_holdings(task, np.array([1.0, 0, 0, 0])), immediate_holdings(task))
    np.testing.assert_allclose(profile_holdings(task, np.array([3.0, 1.0, 0.0, 4.0])), [100, 62.5, 50, 50, 0])


@pytest.mark.parametrize(
    "profile, message",
    [
        (np.ones(3), "one value per interval"),
        (np.ones((4, 1)), "one value per interval"),
        (np.array([1.0, -1.0, 1.0, 1.0]), "non-negative"),
        (np.array([1.0, np.nan, 1.0, 1.0]), "finite"),
        (np.array([1.0, np.inf, 1.0, 1.0]), "finite"),
        (np.zeros(4), "not all zero"),
    ],
)
def test_profile_holdings_validation(profile: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        profile_holdings(LiquidationTask(shares=100.0, steps=4), profile)


@pytest.mark.parametrize(
    "holdings, message",
    [
        (np.array([1e6, 5e5, 0.0]), "x_0..x_N"),
        (np.array([9e5, 8e5, 6e5, 4e5, 2e5, 0.0]), "start at X"),
        (np.array([1e6, 8e5, 6e5, 4e5, 2e5, 1.0]), "end at 0"),
    ],
)
def test_schedule_moments_validation(holdings: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        schedule_moments(DEFAULTS, LiquidationTask(), holdings)

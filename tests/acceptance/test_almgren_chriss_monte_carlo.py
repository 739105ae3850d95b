"""Acceptance: the simulator's Monte Carlo shortfall moments match the Almgren-Chriss closed forms.

For a static schedule on an ABM market the implementation shortfall is Gaussian with mean E and
variance V (almgren_chriss.schedule_moments). 20,000 seeded episodes estimate both; the tolerance
is Z standard errors of each estimator, computed from the sample itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.desks.execution.almgren_chriss import optimal_holdings, schedule_moments, twap_holdings
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig
from tradebrain.desks.execution.simulator import LiquidationSimulator

EPISODES = 20_000
Z = 4.0
RISK_AVERSION = 1e-6


def simulate(market: MarketConfig, task: LiquidationTask, holdings: np.ndarray, first_seed: int) -> np.ndarray:
    """Implementation shortfalls of EPISODES seeded episodes trading the static schedule."""
    sim = LiquidationSimulator(market, task, episodes=EPISODES)
    sim.reset(list(range(first_seed, first_seed + EPISODES)))
    for n_k in -np.diff(holdings):
        sim.advance(np.minimum(np.full(EPISODES, n_k), sim.inventory))
    return sim.implementation_shortfall()


def schedules(task: LiquidationTask) -> dict[str, np.ndarray]:
    return {"twap": twap_holdings(task), "optimal": optimal_holdings(MarketConfig(), task, RISK_AVERSION)}


@pytest.mark.parametrize("steps", [5, 50])
@pytest.mark.parametrize("schedule", ["twap", "optimal"])
def test_monte_carlo_moments_match_closed_form(schedule: str, steps: int) -> None:
    market, task = MarketConfig(process="abm"), LiquidationTask(steps=steps, risk_aversion=RISK_AVERSION)
    holdings = schedules(task)[schedule]
    moments = schedule_moments(market, task, holdings)
    shortfall = simulate(market, task, holdings, first_seed=1_000 * steps)

    mean = shortfall.mean()
    centred = shortfall - mean
    variance = float(np.mean(centred**2))
    m4 = float(np.mean(centred**4))
    mean_error = np.sqrt(variance / EPISODES)
    variance_error = np.sqrt((m4 - variance**2) / EPISODES)

    assert abs(mean - moments.expected) < Z * mean_error, (mean, moments.expected, mean_error)
    assert abs(variance - moments.variance) < Z * variance_error, (variance, moments.variance, variance_error)


def objective_estimate(shortfall: np.ndarray) -> tuple[float, float]:
    """Sample E + lambda*V and its standard error (delta method; mean and variance are uncorrelated
    for a Gaussian shortfall, and adding the two errors bounds the error of their sum anyway)."""
    centred = shortfall - shortfall.mean()
    variance = float(np.mean(centred**2))
    m4 = float(np.mean(centred**4))
    error = np.sqrt(variance / EPISODES) + RISK_AVERSION * np.sqrt((m4 - variance**2) / EPISODES)
    return float(shortfall.mean()) + RISK_AVERSION * variance, float(error)


def test_optimum_has_the_lower_monte_carlo_objective() -> None:
    market, task = MarketConfig(process="abm"), LiquidationTask(risk_aversion=RISK_AVERSION)
    estimates = {
        name: objective_estimate(simulate(market, task, holdings, first_seed=50_000))
        for name, holdings in schedules(task).items()
    }
    (optimum, optimum_error), (twap, twap_error) = estimates["optimal"], estimates["twap"]
    assert twap - optimum > Z * (optimum_error + twap_error)

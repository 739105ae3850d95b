"""Property tests: the liquidation accounting holds for any trades, any seed, any admissible market."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebrain.desks.execution.almgren_chriss import schedule_moments, twap_holdings
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig
from tradebrain.desks.execution.simulator import LiquidationSimulator

MAX_STEPS = 12
fractions_strategy = st.lists(
    st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=MAX_STEPS
)  # one fraction of the inventory left per step; the list length is N
markets = st.builds(
    MarketConfig,
    process=st.sampled_from(["abm", "gbm", "garch"]),
    sigma=st.floats(0.0, 3.0),
    drift=st.floats(-0.5, 0.5),
    epsilon=st.floats(0.0, 0.5),
    eta=st.floats(1e-7, 1e-5),
    gamma=st.floats(0.0, 1e-7),  # gamma*tau/2 < eta for every tau <= 1
)
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True)  # seeded: same examples every run


def run(market: MarketConfig, task: LiquidationTask, fractions: list[float], seed: int) -> dict[str, float]:
    sim = LiquidationSimulator(market, task, episodes=1)
    sim.reset([seed])
    traded = increments = 0.0
    for fraction in fractions:
        _, outcome = sim.step(np.array([fraction]) * sim.inventory)
        traded += float(outcome.shares[0])
        increments += float(outcome.shortfall[0])
        assert 0.0 <= outcome.carried[0] <= task.shares
    assert sim.done
    assert sim.inventory[0] == 0.0
    return {
        "traded": traded,
        "increments": increments,
        "shortfall": float(sim.implementation_shortfall()[0]),
        "cash": float(sim.cash[0]),
    }


@PROPERTY
@given(
    market=markets,
    fractions=fractions_strategy,
    seed=st.integers(0, 2**32 - 1),
    side=st.sampled_from(["sell", "buy"]),
    horizon=st.floats(0.1, 10.0),
)
def test_accounting_holds(market: MarketConfig, fractions: list[float], seed: int, side: str, horizon: float) -> None:
    steps = len(fractions)
    task = LiquidationTask(side=side, steps=steps, horizon=min(horizon, float(steps)))
    result = run(market, task, fractions, seed)
    notional = task.shares * market.s0
    assert abs(result["traded"] - task.shares) <= 1e-12 * task.shares * steps
    assert abs(result["increments"] - result["shortfall"]) <= 1e-12 * notional * steps
    # implementation shortfall = side * (arrival value) - cash, by definition
    assert abs(result["shortfall"] - (task.sign * notional - result["cash"])) <= 1e-12 * notional


@PROPERTY
@given(
    fractions=fractions_strategy,
    seed=st.integers(0, 2**32 - 1),
    epsilon=st.floats(0.0, 0.5),
    eta=st.floats(1e-7, 1e-5),
    gamma=st.floats(0.0, 1e-7),
)
def test_impact_can_only_cost(fractions: list[float], seed: int, epsilon: float, eta: float, gamma: float) -> None:
    market = MarketConfig(sigma=0.0, drift=0.0, epsilon=epsilon, eta=eta, gamma=gamma)
    task = LiquidationTask(steps=len(fractions), horizon=float(len(fractions)))
    result = run(market, task, fractions, seed)
    tolerance = 1e-12 * task.shares * market.s0 * task.steps
    # sigma = 0: IS = gamma*X^2/2 + epsilon*sum|n| + eta_tilde/tau*sum n^2 >= gamma*X^2/2
    assert result["shortfall"] >= gamma * task.shares**2 / 2 - tolerance
    # ... and sum n^2 >= X^2/N, sum|n| = X: no schedule is cheaper than TWAP without risk or drift
    assert result["shortfall"] >= schedule_moments(market, task, twap_holdings(task)).expected - tolerance

"""MarketConfig and LiquidationTask reject bad inputs with a message that says what is wrong."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest

from tradebrain.core.config import build_config
from tradebrain.core.errors import ConfigError
from tradebrain.desks.execution.almgren_chriss import schedule_moments, twap_holdings
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig, check_liquidation, eta_tilde
from tradebrain.desks.execution.simulator import LiquidationSimulator


def test_defaults_are_the_almgren_chriss_example() -> None:
    market, task = MarketConfig(), LiquidationTask()
    assert (market.s0, market.sigma, market.epsilon, market.eta, market.gamma) == (
        50.0,
        0.95,
        0.0625,
        2.5e-6,
        2.5e-7,
    )
    assert (task.shares, task.horizon, task.steps, task.tau, task.sign) == (1e6, 5.0, 5, 1.0, 1)
    assert LiquidationTask(side="buy").sign == -1
    assert eta_tilde(market, task) == pytest.approx(2.5e-6 - 2.5e-7 / 2, rel=1e-15)
    check_liquidation(market, task)


@pytest.mark.parametrize("shares", [0.0, -1.0])
def test_non_positive_shares_rejected(shares: float) -> None:
    with pytest.raises(pydantic.ValidationError, match=r"shares[\s\S]*greater than 0"):
        LiquidationTask(shares=shares)
    with pytest.raises(ConfigError, match=r"'task\.shares'"):
        build_config(ExecutionEnvConfig, {"task": {"shares": shares}}, environ={})


def test_zero_steps_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"steps[\s\S]*greater than or equal to 1"):
        LiquidationTask(steps=0)
    with pytest.raises(ConfigError, match=r"'task\.steps'"):
        build_config(ExecutionEnvConfig, {"task": {"steps": 0}}, environ={})


@pytest.mark.parametrize("horizon", [0.0, -5.0, math.nan, math.inf])
def test_bad_horizon_rejected(horizon: float) -> None:
    with pytest.raises(pydantic.ValidationError, match="horizon"):
        LiquidationTask(horizon=horizon)


@pytest.mark.parametrize("field", ["s0", "sigma", "drift", "eta", "gamma", "epsilon", "garch_alpha"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_market_parameters_rejected(field: str, value: float) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        MarketConfig(**{field: value})


@pytest.mark.parametrize("field", ["sigma", "epsilon", "gamma", "ou_theta"])
def test_negative_market_parameters_rejected(field: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        MarketConfig(**{field: -1e-3})


@pytest.mark.parametrize("steps, rejected", [(5, True), (10, True), (40, False)])
def test_eta_tilde_must_be_positive(steps: int, rejected: bool) -> None:
    # eta - gamma*tau/2 with gamma = 2e-5, eta = 2.5e-6: tau = 1 -> -7.5e-6, tau = 0.5 -> -2.5e-6,
    # tau = 0.125 -> +1.25e-6. Finer steps make the same market admissible.
    market = MarketConfig(gamma=2e-5)
    task = LiquidationTask(steps=steps)
    if not rejected:
        check_liquidation(market, task)
        assert eta_tilde(market, task) > 0
        return
    with pytest.raises(ConfigError, match="eta_tilde") as caught:
        check_liquidation(market, task)
    assert "more steps" in str(caught.value)
    with pytest.raises(ConfigError, match="eta_tilde"):
        LiquidationSimulator(market, task)
    with pytest.raises(ConfigError, match="eta_tilde"):
        schedule_moments(market, task, twap_holdings(task))
    with pytest.raises(pydantic.ValidationError, match="eta_tilde"):
        ExecutionEnvConfig(market=market, task=task)
    with pytest.raises(ConfigError, match="eta_tilde"):
        build_config(ExecutionEnvConfig, {"market": {"gamma": 2e-5}, "task": {"steps": steps}}, environ={})


def test_eta_tilde_exactly_zero_rejected() -> None:
    market = MarketConfig(eta=1.25e-7, gamma=2.5e-7)
    task = LiquidationTask(horizon=5.0, steps=5)
    assert eta_tilde(market, task) == 0.0
    with pytest.raises(ConfigError, match="eta_tilde"):
        check_liquidation(market, task)


def test_tau_is_horizon_over_steps() -> None:
    task = LiquidationTask(horizon=2.0, steps=8)
    assert task.tau == 0.25
    assert np.isclose(eta_tilde(MarketConfig(), task), 2.5e-6 - 2.5e-7 * 0.125, rtol=1e-15)

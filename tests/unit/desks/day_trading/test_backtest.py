"""Day-trading backtests through the shared engine: the env's masks hold, every session ends flat,
commission is charged on both sides exactly, the balance compounds, and the compiled kernel of an
exported policy decides exactly as the Python path."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tradebrain.desks.day_trading.actions import BUY, SELL
from tradebrain.desks.day_trading.backtest import MaskedAgent, backtest_days, buy_and_hold_days
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.env import DayTradingEnv
from tradebrain.market.venue import VenueConfig
from tradebrain.rl.export import ExportedPolicy


def random_policy(n_inputs: int, seed: int, normalised: bool = True) -> ExportedPolicy:
    """An untrained 64-64 tanh MLP with VecNormalize-like statistics: it trades often."""
    rng = np.random.default_rng(seed)
    sizes = (n_inputs, 64, 64, 3)
    weights = tuple(rng.normal(0.0, 1.0 / np.sqrt(a), (a, b)) for a, b in itertools.pairwise(sizes))
    biases = tuple(rng.normal(0.0, 0.1, b) for b in sizes[1:])
    mean = rng.normal(0.0, 0.01, n_inputs) if normalised else None
    var = rng.uniform(1e-6, 1e-3, n_inputs) if normalised else None
    return ExportedPolicy(weights, biases, "tanh", mean, var, 10.0, 1e-8, "discrete", f"random-{seed}")


@pytest.fixture(scope="module")
def test_days(future_days: list[TradingDay]) -> list[TradingDay]:
    return future_days[30:]


@pytest.mark.parametrize("commission", [0.0, 0.0002])
def test_masks_hold_sessions_end_flat_and_balance_compounds(
    future_bars: pd.DataFrame, test_days: list[TradingDay], commission: float
) -> None:
    config = DayTradingEnvConfig(commission=commission)
    policy = random_policy(len(config.features) + 2, seed=1)
    agent = MaskedAgent(policy, config, record=True)
    result = backtest_days(future_bars, test_days, agent, config)
    assert result.n_trades >= len(test_days)
    assert all(mask[action] for _, action, mask in agent.actions)  # no invalid action, ever
    ends = np.cumsum([day.bars for day in test_days]) - 1
    assert not result.positions[ends, 0].any()  # flat at every session's last bar
    fills = result.fill_table
    assert np.allclose(fills[:, 4], commission * np.abs(fills[:, 2]) * fills[:, 3], rtol=1e-12, atol=0)
    buys = [t for t, action, _ in agent.actions if action == BUY]
    assert len(buys) == int((fills[:, 2] > 0).sum())  # every BUY filled (at the next bar's open)
    assert sum(1 for _, a, _ in agent.actions if a == SELL) <= len(buys)
    # compounding: flat at each close, so the day's cash is all the next day trades with
    assert np.array_equal(result.cash[ends], result.equity[ends])
    assert result.final_equity == pytest.approx(config.cash + sum(t.pnl for t in result.trades), rel=1e-12)


@pytest.mark.parametrize("normalised", [True, False])
def test_compiled_kernel_decides_exactly_as_the_python_path(
    future_bars: pd.DataFrame, test_days: list[TradingDay], normalised: bool
) -> None:
    config = DayTradingEnvConfig(commission=0.0001, cooldown_bars=3, exit_window_bars=7)
    policy = random_policy(len(config.features) + 2, seed=2, normalised=normalised)
    compiled = backtest_days(future_bars, test_days, policy, config)
    python = backtest_days(future_bars, test_days, policy, config, compiled=False)
    assert compiled.n_trades >= len(test_days)
    assert compiled.trades == python.trades
    assert np.array_equal(compiled.equity, python.equity)


def test_buy_and_hold_covers_the_same_period(future_bars: pd.DataFrame, test_days: list[TradingDay]) -> None:
    config = DayTradingEnvConfig(commission=0.0001)
    held = buy_and_hold_days(future_bars, test_days, config)
    closes = np.concatenate([day.close for day in test_days])
    assert held.n_trades == 0 and held.positions[-1, 0] > 0
    entry = held.fill_table[0]
    assert held.final_equity == pytest.approx(config.cash - entry[4] + entry[2] * (closes[-1] - entry[3]), rel=1e-12)


@pytest.mark.parametrize(
    "venue",
    [
        VenueConfig(fill="close", spread="none"),
        VenueConfig(fill="next_open", spread="range"),
        VenueConfig(fill="next_open", spread="range", latency_bars=2),
        VenueConfig(fill="next_typical", spread="fixed", spread_bps=2.0, slippage_bps=0.5),
    ],
    ids=["close", "next-open", "latency", "typical"],
)
def test_the_env_trains_under_the_fills_the_backtest_tests_with(
    future_bars: pd.DataFrame, test_days: list[TradingDay], venue: VenueConfig
) -> None:
    """One venue: a policy stepped through the env over the test sessions (the balance carried from
    day to day) makes the backtest's trades and ends with its equity, fill model by fill model."""
    config = DayTradingEnvConfig(commission=0.0001, venue=venue)
    policy = random_policy(len(config.features) + 2, seed=3)
    result = backtest_days(future_bars, test_days, policy, config, compiled=False)
    env = DayTradingEnv(test_days, config, shuffle=False)
    cash, trades = config.cash, 0
    for day in range(len(test_days)):
        obs, _ = env.reset(options={"day": day, "cash": cash})
        done, info = False, {}
        while not done:
            action = int(policy.act(obs[None, :], env.action_masks()[None, :])[0])
            obs, _, done, _, info = env.step(action)
        cash, trades = info["cash"], trades + info["trades"]
    assert trades == result.n_trades > 2 * len(test_days)
    assert cash == pytest.approx(result.final_equity, rel=1e-9)

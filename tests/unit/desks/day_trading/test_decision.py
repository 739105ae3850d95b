"""DecisionPath: live-style decisions equal the env's (no train/serve skew), masks hold, the gate
can deny, and bad bars are rejected at the boundary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tradebrain.core.errors import InputError
from tradebrain.core.types import AccountView
from tradebrain.desks.day_trading.actions import BUY, SELL
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, trading_days
from tradebrain.desks.day_trading.decision import Decision, DecisionPath, FastDiscretePolicy
from tradebrain.desks.day_trading.env import DayTradingEnv
from tradebrain.desks.day_trading.vec import make_vec_env
from tradebrain.market.venue import VenueConfig
from tradebrain.risk.gate import RULE_DRAWDOWN, RULE_POSITION, RiskGate
from tradebrain.risk.limits import RiskLimits
from tradebrain.rl.export import ExportedPolicy, export_policy
from tradebrain.rl.training import TrainConfig, train_agent

# the path is driven below with every order filled at the decision bar's close, so the env it is
# compared with fills there too (the optimistic same-bar close)
CONFIG = DayTradingEnvConfig(commission=0.0001, venue=VenueConfig(fill="close", spread="none"))
TINY = {"n_steps": 256, "batch_size": 256, "n_epochs": 2}


@pytest.fixture(scope="module")
def bars(future_bars: pd.DataFrame) -> pd.DataFrame:
    """The real 1-minute sample (tests/conftest.py)."""
    return future_bars


@pytest.fixture(scope="module")
def days(bars: pd.DataFrame) -> list[TradingDay]:
    return trading_days(bars, CONFIG)


@pytest.fixture(scope="module")
def policy(days: list[TradingDay]) -> ExportedPolicy:
    """A MaskablePPO trained briefly on the first 30 sessions (normalised observations), exported."""
    torch.set_num_threads(1)
    train = TrainConfig(algo="maskable-ppo", timesteps=1_024, n_envs=4, seed=1, normalize_obs=True, net_arch=(32, 32))
    agent = train_agent(lambda n: make_vec_env(days[:30], CONFIG, n, seed=1), "discrete", train, TINY, progress=False)
    return export_policy(agent.model, agent.vec_normalize, "maskable-ppo")


def _env_actions(days: list[TradingDay], policy: ExportedPolicy) -> tuple[list[list[int]], list[np.ndarray]]:
    """Each test day's actions of `policy` stepped in DayTradingEnv, and its observations."""
    env = DayTradingEnv(days, CONFIG, shuffle=False)
    actions, observations = [], []
    for index in range(30, len(days)):
        obs, _ = env.reset(options={"day": index})
        day_actions, done = [], False
        while not done:
            action = int(policy.act(obs, env.action_masks())[0])
            observations.append(obs)
            day_actions.append(action)
            obs, _, done, _, _ = env.step(action)
        actions.append(day_actions)
    return actions, observations


def _drive(bars: pd.DataFrame, days: list[TradingDay], path: DecisionPath, first_day: int) -> list[list[int]]:
    """Feed every bar to the path, starting a session at each trading day from `first_day` on and
    filling every approved order at the decision bar's close; the actions taken per day."""
    starts = {day.timestamps[0]: day.bars for day in days[first_day:]}
    actions: list[list[int]] = []
    columns = [bars[name].to_numpy() for name in ("open", "high", "low", "close", "volume")]
    for i, stamp in enumerate(bars["timestamp"]):
        if stamp in starts:
            path.start_session(starts[stamp])
            actions.append([])
        decision = path.step(stamp, *(float(column[i]) for column in columns))
        if decision is None:
            continue
        assert decision.mask[decision.action], "a masked action was taken"
        actions[-1].append(decision.action)
        if decision.order is not None:
            path.record_fill(decision.order.quantity, float(columns[3][i]))
    return actions


def test_decisions_equal_the_env_on_the_test_days(
    bars: pd.DataFrame, days: list[TradingDay], policy: ExportedPolicy
) -> None:
    expected, _ = _env_actions(days, policy)
    path = DecisionPath(policy, "FUT", CONFIG)
    actions = _drive(bars, days, path, 30)
    assert [len(day) for day in actions] == [day.bars for day in days[30:]]
    assert actions == expected
    flat = np.concatenate(actions)
    assert (flat == BUY).sum() > 5 and (flat == SELL).sum() > 5  # it trades: the masks and fills were exercised
    assert not path.in_position  # every session ends flat (the exit window forces the sell)
    slow = DecisionPath(policy, "FUT", CONFIG, fast=False)  # ExportedPolicy.act: the same decisions
    assert _drive(bars, days, slow, 38) == expected[8:]


def test_fast_forward_pass_equals_exported_act(days: list[TradingDay], policy: ExportedPolicy) -> None:
    _, observations = _env_actions(days[:32], policy)
    fast = FastDiscretePolicy(policy)
    masks = np.random.default_rng(0).random((len(observations), 3)) < 0.6
    masks[~masks.any(axis=1), 0] = True
    expected = policy.act(np.array(observations), masks)
    assert [fast.act(obs, mask) for obs, mask in zip(observations, masks, strict=True)] == expected.tolist()
    np.testing.assert_allclose(fast.logits(observations[0]), policy.logits(observations[0])[0], rtol=1e-12)


def _buys(bars: pd.DataFrame, days: list[TradingDay], path: DecisionPath) -> list[tuple[Decision, float, float]]:
    """The buy decisions of `path` over test days 30 and 31 with the bar's close and the equity
    there; approved orders are filled at the close."""
    starts = {day.timestamps[0]: day.bars for day in days[30:32]}
    buys = []
    for row in bars.itertuples(index=False):
        if row.timestamp > days[31].timestamps[-1]:
            break
        if row.timestamp in starts:
            path.start_session(starts[row.timestamp])
        decision = path.step(row.timestamp, row.open, row.high, row.low, row.close, row.volume)
        if decision is None or decision.requested is None:
            continue
        if decision.action == BUY:
            buys.append((decision, row.close, path.equity(row.close)))
        if decision.order is not None:
            path.record_fill(decision.order.quantity, row.close)
    return buys


def test_the_gate_resizes_a_buy_above_the_position_limit(
    bars: pd.DataFrame, days: list[TradingDay], policy: ExportedPolicy
) -> None:
    path = DecisionPath(policy, "FUT", CONFIG, gate=RiskGate(RiskLimits(max_position_pct=0.1)))
    buys = _buys(bars, days, path)
    assert buys
    for decision, close, equity in buys:
        assert decision.risk is not None and decision.risk.rule == RULE_POSITION
        assert decision.order is not None and decision.requested is not None
        assert 0 < decision.order.quantity < decision.requested.quantity
        assert decision.order.quantity * close == pytest.approx(0.1 * equity, rel=1e-9)  # cut to 10% of NAV


def test_a_halted_gate_denies_every_buy_and_nothing_is_booked(
    bars: pd.DataFrame, days: list[TradingDay], policy: ExportedPolicy
) -> None:
    gate = RiskGate(RiskLimits(max_drawdown_pct=0.05))
    stamp = days[30].timestamps[0]
    assert gate.mark(AccountView(1_000.0, {}, {"FUT": 1.0}, 10_000.0, 10_000.0), stamp) == []  # 90% down: halted
    path = DecisionPath(policy, "FUT", CONFIG, gate=gate)
    buys = _buys(bars, days, path)
    assert buys
    for decision, _, _ in buys:
        assert decision.order is None and decision.risk is not None and decision.risk.rule == RULE_DRAWDOWN
    assert path.cash == CONFIG.cash and not path.in_position  # nothing was filled


def test_bad_bars_raise_input_errors_naming_the_field(policy: ExportedPolicy) -> None:
    path = DecisionPath(policy, "FUT", CONFIG)
    stamp = pd.Timestamp("2024-01-02 15:00", tz="UTC")
    path.step(stamp, 100.0, 101.0, 99.0, 100.5, 10.0)
    with pytest.raises(InputError, match="close"):
        path.step(stamp + pd.Timedelta(minutes=1), 100.0, 101.0, 99.0, float("nan"), 10.0)
    with pytest.raises(InputError, match="timestamp"):
        path.step(stamp, 100.0, 101.0, 99.0, 100.5, 10.0)
    with pytest.raises(InputError, match="timestamp"):
        path.step(stamp - pd.Timedelta(minutes=1), 100.0, 101.0, 99.0, 100.5, 10.0)
    with pytest.raises(InputError, match="volume"):
        path.step(stamp + pd.Timedelta(minutes=1), 100.0, 101.0, 99.0, 100.5, -1.0)
    with pytest.raises(InputError, match="bars_in_session"):
        path.start_session(0)
    with pytest.raises(InputError, match="price"):
        path.record_fill(1.0, float("inf"))
    with pytest.raises(InputError, match="sell fill"):
        path.record_fill(-1.0, 100.0)
    with pytest.raises(InputError, match="inputs"):
        DecisionPath(policy, "FUT", DayTradingEnvConfig(features=("ret_close",)))

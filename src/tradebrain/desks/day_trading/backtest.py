"""Backtest a day-trading agent on out-of-sample sessions through the shared engine.

The policy decides with the env's own observer (`desks/day_trading/observer.py`) and action mask
(`desks/day_trading/actions.py`) on the same point-in-time feature rows, fills through the env's
simulated venue (market/venue.py; by default the next bar's open plus half the range spread, as
the env trains) or any other (the realism ladder), is forced flat at each session's
last bar, and its balance compounds from day to day (the env resets it per episode only in
training). An exported MLP policy runs as a compiled kernel (rl/kernels.py MASKED_MLP, tested equal
to the Python path); any other Policy runs in Python. An action outside the mask raises
InputError, so no invalid action is ever taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tradebrain.backtest.baselines import BuyAndHold
from tradebrain.backtest.engine import BacktestConfig, BacktestResult, market_from_bars, run_backtest
from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.actions import BUY, SELL, action_mask, describe_mask
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.observer import observation
from tradebrain.market.venue import VenueConfig
from tradebrain.risk.gate import RiskGate
from tradebrain.rl.export import ExportedPolicy
from tradebrain.rl.kernels import MASKED_MLP, PolicyKernel, pack_mlp
from tradebrain.rl.policy import Policy


class MaskedAgent:
    """An agent with the env's observer and masks, answering the engine's `decide` per bar.

    `actions` records (bar, action, mask) when `record` is on, for tests and reports.
    """

    def __init__(self, policy: Policy, config: DayTradingEnvConfig, record: bool = False) -> None:
        self.policy = policy
        self.config = config
        self.name = policy.name
        self.record = record
        self.actions: list[tuple[int, int, np.ndarray]] = []

    def position_pnl(self, price: float, entry_price: float) -> float:
        """The open position's return net of the entry fee, as the env observes it."""
        return price / (entry_price * (1.0 + self.config.commission)) - 1.0

    def decide(
        self,
        t: int,
        j: int,
        history: np.ndarray,
        features: np.ndarray,
        position: float,
        avg_cost: float,
        bars_held: int,
        bars_left: int,
    ) -> float:
        """Target position (1 long, 0 flat) after the policy's masked action at bar t."""
        in_position = position > 0.0
        pnl = self.position_pnl(float(history[-1]), avg_cost) if in_position and avg_cost > 0.0 else 0.0
        obs = observation(features, in_position, pnl, self.config.features)
        mask = action_mask(in_position, max(bars_held, 0), bars_left, self.config.cooldown_bars,
                           self.config.exit_window_bars)  # fmt: skip
        action = int(np.asarray(self.policy.act(obs[None, :], mask[None, :])).reshape(-1)[0])
        if not (0 <= action < len(mask)) or not mask[action]:
            raise InputError(f"{self.name} chose action {action} at bar {t}; allowed: {describe_mask(mask)}")
        if self.record:
            self.actions.append((t, action, mask))
        if action == BUY:
            return 1.0
        if action == SELL:
            return 0.0
        return 1.0 if in_position else 0.0

    def kernel(self, n_bars: int, n_symbols: int) -> PolicyKernel | None:
        """The compiled form for an exported discrete MLP (None otherwise, or when recording)."""
        policy = self.policy
        if self.record or not isinstance(policy, ExportedPolicy) or policy.kind != "discrete":
            return None
        n_obs = policy.n_inputs
        normalise = policy.obs_mean is not None and policy.obs_var is not None
        mean = policy.obs_mean if policy.obs_mean is not None else np.zeros(n_obs)
        var = policy.obs_var if policy.obs_var is not None else np.ones(n_obs)
        config = self.config
        head = [
            float(len(config.features)), float(config.cooldown_bars), float(config.exit_window_bars),
            config.commission, policy.clip_obs, policy.epsilon, 1.0 if normalise else 0.0,
        ]  # fmt: skip
        network = pack_mlp(list(policy.weights), list(policy.biases), relu=policy.activation == "relu")
        return PolicyKernel(MASKED_MLP, np.concatenate([head, mean, var, network]))


def session_ends(days: Sequence[TradingDay]) -> np.ndarray:
    """Index of each day's last bar in the days' bars laid end to end."""
    return np.cumsum([day.bars for day in days]) - 1


def day_market(bars: pd.DataFrame, days: Sequence[TradingDay]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The bars of `days` (one symbol), their feature rows (bars, 1, n) and each session's last bar."""
    if not days:
        raise InputError("no trading days to backtest; check the test period")
    stamps = pd.DatetimeIndex(np.concatenate([day.timestamps.as_unit("ns").asi8 for day in days]), tz="UTC")
    frame = bars.assign(timestamp=pd.DatetimeIndex(bars["timestamp"]).as_unit("ns").tz_convert("UTC"))
    frame = frame[frame["timestamp"].isin(stamps)].sort_values("timestamp", kind="stable")
    if len(frame) != len(stamps):
        raise InputError(f"the bars hold {len(frame)} of the {len(stamps)} bars of these days; pass the same bars")
    features = np.concatenate([day.features for day in days]).reshape(len(stamps), 1, -1)
    session_last = np.zeros(len(stamps), dtype=bool)
    session_last[session_ends(days)] = True
    return frame, features, session_last


def backtest_days(
    bars: pd.DataFrame,
    days: Sequence[TradingDay],
    policy: Any,
    config: DayTradingEnvConfig,
    risk_gate: RiskGate | None = None,
    compiled: bool = True,
    venue: VenueConfig | None = None,
) -> BacktestResult:
    """Run `policy` over consecutive `days` (balance compounding) with the env's rules; `policy` is
    a Policy (wrapped in MaskedAgent) or a MaskedAgent. Fills through the env's venue (`config.venue`,
    as the env trains), unless a `venue` says otherwise (the realism ladder)."""
    agent = policy if isinstance(policy, MaskedAgent) else MaskedAgent(policy, config)
    frame, features, session_last = day_market(bars, days)
    backtest_config = _config(config, venue, flat_at_close=True)
    market = market_from_bars(frame)
    return run_backtest(market, agent, backtest_config, risk_gate, features, compiled, session_last)


def buy_and_hold_days(
    bars: pd.DataFrame, days: Sequence[TradingDay], config: DayTradingEnvConfig, venue: VenueConfig | None = None
) -> BacktestResult:
    """Buy-and-hold over the same bars, costs, sizing and venue as the agent (held overnight)."""
    frame, _, _ = day_market(bars, days)
    return run_backtest(frame, BuyAndHold(), _config(config, venue, flat_at_close=False))


def _config(config: DayTradingEnvConfig, venue: VenueConfig | None, flat_at_close: bool) -> BacktestConfig:
    """The engine's config for the env's costs and sizing, filling through `venue` (default: the
    env's own, so a policy is tested under the fills it trained with)."""
    return BacktestConfig(
        cash=config.cash, commission=config.commission, flat_at_close=flat_at_close,
        fractional=not config.whole_shares, cash_fraction=config.cash_fraction,
        venue=config.venue if venue is None else venue,
    )  # fmt: skip

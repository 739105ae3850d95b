"""One live-style day-trading decision per new bar: streaming features -> observation -> mask ->
exported policy -> order -> risk gate.

The observation, the mask and the account arithmetic are the very functions the env uses
(`envs.day_trading.observation`, `action_mask`, DayAccount's sizing rule), and the features come
from `StreamingFeatures`, equal to `compute_features`; so a policy driven here takes the actions
it took in `DayTradingEnv` on the same bars (no train/serve skew; tests/unit/desks/day_trading/test_decision.py).

Sessions: the caller says when a session starts and how many bars it has (`start_session`), since
only the caller knows the venue's schedule; `bars_left` (for the exit window) counts down from
there. Bars outside a session (and the features' warm-up bars) update the features only.

Fills: the desk never assumes an order filled; the caller reports each fill (`record_fill`), and
position, cash and `bars_held` follow the fills. A buy is sized all-in like the env's account
(cash_fraction of the cash, fee included, at the decision bar's close); a sell closes the position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.core.types import AccountView, Order
from tradebrain.data.streaming import StreamingFeatures
from tradebrain.desks.day_trading.account import buy_size
from tradebrain.desks.day_trading.actions import BUY, SELL, action_mask
from tradebrain.desks.day_trading.config import DEFAULT_CONFIG, DayTradingEnvConfig
from tradebrain.desks.day_trading.observer import observation
from tradebrain.risk.gate import RiskDecision, RiskGate
from tradebrain.rl.export import ExportedPolicy


class FastDiscretePolicy:
    """A single-observation forward pass of a discrete `ExportedPolicy`, with the same arithmetic
    (normalise in float64, cast to float32, float64 layers, masked argmax) but none of the batch
    bookkeeping, in preallocated buffers (ufuncs with `out=`; min/max instead of the slower
    np.clip, equal on finite inputs): a fraction of the time of `ExportedPolicy.act` for one
    observation. Equal actions are checked in tests/unit/desks/day_trading/test_decision.py. Not thread-safe
    (the buffers are shared): one instance per decision loop."""

    def __init__(self, policy: ExportedPolicy) -> None:
        if policy.kind != "discrete":
            raise InputError(f"the day-trading desk needs a discrete policy (got a {policy.kind} one)")
        self.policy = policy
        self.n_inputs = policy.n_inputs
        self._mean = policy.obs_mean
        self._scale = None if policy.obs_var is None else np.sqrt(policy.obs_var + policy.epsilon)
        self._clip = policy.clip_obs
        self._layers = list(zip(policy.weights, policy.biases, strict=True))
        self._tanh = policy.activation == "tanh"
        self._input = np.empty(self.n_inputs)
        self._input32 = np.empty(self.n_inputs, dtype=np.float32)
        self._hidden = [np.empty(weight.shape[1]) for weight in policy.weights]

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """The action logits of one observation (shape (n_actions,)); a buffer reused by the next call."""
        if obs.shape != (self.n_inputs,):
            raise InputError(f"observation has shape {obs.shape}; the policy takes ({self.n_inputs},)")
        values = self._input
        if self._mean is not None and self._scale is not None:
            np.subtract(obs, self._mean, out=values)
            np.divide(values, self._scale, out=values)
            np.maximum(values, -self._clip, out=values)
            np.minimum(values, self._clip, out=values)
        else:
            values[:] = obs
        self._input32[:] = values
        values[:] = self._input32
        last = len(self._layers) - 1
        for layer, (weight, bias) in enumerate(self._layers):
            out = self._hidden[layer]
            np.dot(values, weight, out=out)
            np.add(out, bias, out=out)
            if layer < last:
                if self._tanh:
                    np.tanh(out, out=out)
                else:
                    np.maximum(out, 0.0, out=out)
            values = out
        return values

    def act(self, obs: np.ndarray, mask: np.ndarray) -> int:
        """The greedy allowed action of one observation (the first of equal logits, as np.argmax)."""
        logits = self.logits(obs).tolist()
        best, best_value = -1, -math.inf
        for action, allowed in enumerate(mask.tolist()):
            if allowed and (best < 0 or logits[action] > best_value):
                best, best_value = action, logits[action]
        if best < 0:
            raise InputError("the action mask allows no action")
        return best


@dataclass(frozen=True)
class Decision:
    """What the desk decided at one bar: the policy's `action` under `mask`, the `observation` it
    saw, the order it asked for (`requested`, None on hold) and the gate's answer (`risk`, None
    when there was no order). `order` is what to send: the approved order, or None."""

    timestamp: pd.Timestamp
    action: int
    mask: np.ndarray
    observation: np.ndarray
    requested: Order | None
    risk: RiskDecision | None

    @property
    def order(self) -> Order | None:
        """The order to send to the venue (as approved by the gate), or None."""
        if self.risk is not None:
            return self.risk.order
        return self.requested


class DecisionPath:
    """The live decision loop of one symbol for a trained day-trading policy.

    Per bar: `step(timestamp, open, high, low, close, volume)` updates the streaming features and,
    inside a session once they are warm, returns a Decision (else None). Report fills with
    `record_fill`. `gate` (optional) reviews every order against the account at the bar's close
    (day-start equity: at the session's first bar; peak: the highest equity seen at a decision).
    The gate's loss limits act through `gate.mark`, which the caller runs on every bar before
    `step` when it uses them (a halted gate then denies every buy here).

    `fast=True` runs the forward pass through `FastDiscretePolicy` (equal actions, less time);
    `fast=False` through `ExportedPolicy.act`.
    """

    def __init__(
        self,
        policy: ExportedPolicy,
        symbol: str,
        config: DayTradingEnvConfig = DEFAULT_CONFIG,
        gate: RiskGate | None = None,
        cash: float | None = None,
        fast: bool = True,
    ) -> None:
        if policy.n_inputs != len(config.features) + 2:
            raise InputError(
                f"the policy takes {policy.n_inputs} inputs; the config's {len(config.features)} features "
                "plus position flag and PnL make a different number; use the config the policy was trained with"
            )
        self.policy = policy
        self.symbol = symbol
        self.config = config
        self.gate = gate
        self.features = StreamingFeatures(config.features)
        self._fast = FastDiscretePolicy(policy) if fast else None
        self.cash = float(config.cash if cash is None else cash)
        if not (math.isfinite(self.cash) and self.cash > 0):
            raise InputError(f"cash must be finite and > 0 (got {self.cash})")
        self.quantity = 0.0
        self.entry_cost = 0.0
        self.bars_held = 0
        self._session_bars = 0
        self._bar = -1
        self._day_start_equity = self._peak_equity = self.cash

    @property
    def in_position(self) -> bool:
        """Whether a long position is open."""
        return self.quantity > 0

    @property
    def in_session(self) -> bool:
        """Whether the current bar (the last one stepped) belongs to a started session."""
        return 0 <= self._bar < self._session_bars

    @property
    def bars_left(self) -> int:
        """Bars of the session after the current one (0 on its last bar)."""
        return self._session_bars - 1 - self._bar

    def equity(self, price: float) -> float:
        """Cash plus the position at `price`."""
        return self.cash + self.quantity * price

    def position_pnl(self, price: float) -> float:
        """The open position's return at `price`, net of the entry fee (0 when flat), as the env's account."""
        return self.quantity * price / self.entry_cost - 1.0 if self.quantity > 0 else 0.0

    def start_session(self, bars_in_session: int) -> None:
        """The next bar stepped is the first of a session of `bars_in_session` bars."""
        if not (isinstance(bars_in_session, int | np.integer) and bars_in_session >= 1):
            raise InputError(f"bars_in_session must be an int >= 1 (got {bars_in_session!r})")
        self._session_bars = int(bars_in_session)
        self._bar = -1

    def buy_quantity(self, price: float) -> float:
        """The all-in quantity a buy at `price` asks for: cash_fraction of the cash, fee included,
        floored to whole units when configured (the env's DayAccount.buy sizing)."""
        config = self.config
        venue = config.venue
        quantity, _, _ = buy_size(
            self.cash, price, config.commission, config.cash_fraction, config.whole_shares, venue.fee_per_share,
            venue.min_fee,
        )  # fmt: skip
        return float(quantity)

    def step(
        self,
        timestamp: Any,
        open: float,  # the bar schema's column name
        high: float,
        low: float,
        close: float,
        volume: float,
        vwap: float | None = None,
    ) -> Decision | None:
        """Take the newest bar; the decision at its close, or None (warm-up, or outside a session)."""
        features = self.features.update(timestamp, open, high, low, close, volume, vwap)
        price = float(close)
        if self.in_position:
            self.bars_held += 1
        if self._bar + 1 < self._session_bars:
            self._bar += 1
            if self._bar == 0:
                self._day_start_equity = self.equity(price)
        else:  # the session is over (or none was started): features only
            self._session_bars, self._bar = 0, -1
        if features is None or not self.in_session:
            return None
        obs = observation(features, self.in_position, self.position_pnl(price), self.config.features)
        mask = action_mask(
            self.in_position, self.bars_held, self.bars_left, self.config.cooldown_bars, self.config.exit_window_bars
        )
        action = self._fast.act(obs, mask) if self._fast is not None else int(self.policy.act(obs, mask)[0])
        equity = self.cash + self.quantity * price
        if equity > self._peak_equity:
            self._peak_equity = equity
        requested: Order | None = None
        if action == BUY:
            quantity = self.buy_quantity(price)
            requested = Order(self.symbol, quantity, "buy") if quantity > 0 else None  # whole units: none affordable
        elif action == SELL:
            requested = Order(self.symbol, -self.quantity, "sell")
        risk = None
        stamp = timestamp if isinstance(timestamp, pd.Timestamp) else pd.Timestamp(timestamp, tz="UTC")
        if requested is not None and self.gate is not None:
            account = AccountView(
                self.cash, {self.symbol: self.quantity}, {self.symbol: price}, self._day_start_equity, self._peak_equity
            )
            risk = self.gate.review(requested, account, stamp)
        return Decision(stamp, action, mask, obs, requested, risk)

    def buy_budget(self) -> float:
        """The cash an opening buy spends, fee included (cash_fraction of the cash): what a venue
        that sizes the order at its fill price is given, as the backtest's all-in entries are."""
        return self.config.cash_fraction * self.cash

    def record_fill(self, quantity: float, price: float, fee: float | None = None, at_open: bool = False) -> None:
        """Book a fill: `quantity` > 0 buys (opens the position; cost = quantity * price + fee),
        < 0 sells the whole position. `fee` defaults to config.commission x the traded value.
        `at_open`: the fill came at the open of the bar about to be stepped (a next-bar fill), so
        that bar is the entry's bar 0 (the backtest counts bars held from the fill's bar)."""
        q, p = float(quantity), float(price)
        if not (math.isfinite(q) and q != 0):
            raise InputError(f"fill quantity must be finite and nonzero (got {quantity})")
        if not (math.isfinite(p) and p > 0):
            raise InputError(f"fill price must be finite and > 0 (got {price})")
        paid = self.config.commission * abs(q) * p if fee is None else float(fee)
        if not (math.isfinite(paid) and paid >= 0):
            raise InputError(f"fill fee must be finite and >= 0 (got {fee})")
        if q > 0:
            if self.in_position:
                raise InputError("buy fill while a position is open: the desk is long-only and all-in")
            cost = q * p + paid
            if cost > self.cash * (1 + 1e-9):
                raise InputError(f"buy fill costs {cost:.2f}, more than the cash {self.cash:.2f}")
            self.cash -= cost
            self.quantity, self.entry_cost, self.bars_held = q, cost, -1 if at_open else 0
        else:
            if not math.isclose(-q, self.quantity, rel_tol=1e-9):
                raise InputError(f"sell fill of {-q} units, but the position is {self.quantity}; sell it whole")
            self.cash += self.quantity * p - paid
            self.quantity, self.entry_cost, self.bars_held = 0.0, 0.0, 0

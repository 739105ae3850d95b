"""The trading node's bar loop: the backtest's strategy on a live clock, one bar at a time.

Per bar of its symbol: the execution client fills what is due at this bar (journalled, then
booked in the strategy as fills at the open), the strategy decides at the bar's close (the very
observation, mask, deterministic policy call and gate the backtest runs), and the order it asks
for is journalled under its deterministic id BEFORE it is sent. An opening buy goes to the venue
as cash (`strategy.buy_budget()`) so the venue sizes it at the fill price, as the backtest's
all-in entries are. At a session's last bar, as the backtest's `flat_at_close`, orders still on
their way expire and the position is sold at that bar's close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.core.types import AccountView
from tradebrain.desks.contract import LiveStrategy
from tradebrain.live.controls import NodeControls
from tradebrain.live.decisions import DecisionLog, DecisionRecord, action_probabilities, model_hash
from tradebrain.live.orders import OrderJournal
from tradebrain.live.paper import PaperBroker
from tradebrain.risk.gate import RiskGate


@dataclass
class TradingNode:
    """One strategy on one symbol, fed bar by bar (`start_session`, then `on_bar` per bar)."""

    name: str
    symbol: str
    strategy: LiveStrategy
    broker: PaperBroker
    journal: OrderJournal
    flat_at_close: bool = True
    log: DecisionLog | None = None
    gate: RiskGate | None = None
    controls: NodeControls | None = None
    decisions: list[Any] = field(default_factory=list)
    _session_bars: int = 0
    _bar: int = -1
    _model: str | None = None
    _peak: float = 0.0
    _day_start: float = 0.0
    _day: int = -1

    def __post_init__(self) -> None:
        if self.gate is not None and self.controls is not None:
            self.controls.restore(self.gate)  # a kill switch latched before a restart holds

    def start_session(self, bars: int) -> None:
        """The next bar is the first of a session of `bars` bars."""
        self.strategy.start_session(bars)
        self._session_bars, self._bar = bars, -1

    def on_bar(self, timestamp: pd.Timestamp, open_: float, high: float, low: float, close: float, volume: float,
               vwap: float = math.nan) -> Any:  # fmt: skip
        """Fill what is due, decide, journal and send; returns the decision (None outside a session)."""
        if not all(math.isfinite(v) and v > 0 for v in (open_, high, low, close)):
            raise InputError(
                f"{self.symbol} bar at {timestamp} has a price that is not finite and > 0; no order is sent"
            )
        for fill in self.broker.on_bar(self.symbol, timestamp, open_, high, low, close, vwap):
            self.journal.update(fill.order_id, "filled", fill.quantity, fill.price)
            self.strategy.record_fill(fill.quantity, fill.price, fill.fee, at_open=True)
        self._bar += 1
        last = self._session_bars > 0 and self._bar == self._session_bars - 1
        self._guard(timestamp, close)
        decision = self.strategy.step(timestamp, open_, high, low, close, volume, None if math.isnan(vwap) else vwap)
        self.decisions.append(decision)
        if last and self.flat_at_close:  # orders still on their way expire with the session
            self._close_out(timestamp, "session close", leg=9)
            if decision is not None and self.log is not None:
                self._log(timestamp, decision, "")  # the session's close overrides the decision
            return decision
        order = None if decision is None else decision.order
        order_id = ""
        refusal = None
        if order is not None and order.quantity != 0 and self.controls is not None:
            refusal = self.controls.refusal(order.quantity * close, timestamp)
        if refusal is not None:
            if self.log is not None and decision is not None:
                self._log(timestamp, decision, "", refusal)
            return decision
        if order is not None and order.quantity != 0:
            journalled = self.journal.submit(self.name, self.symbol, order.quantity, timestamp, reason=order.reason)
            order_id = journalled.id
            budget = getattr(self.strategy, "buy_budget", None)
            before = len(self.broker.fills)
            if order.quantity > 0 and budget is not None:
                self.broker.submit(journalled.id, self.symbol, notional=float(budget()))
            else:
                self.broker.submit(journalled.id, self.symbol, quantity=order.quantity)
            for fill in self.broker.fills[before:]:  # a same-bar close fill happens at once
                self.journal.update(fill.order_id, "filled", fill.quantity, fill.price)
                self.strategy.record_fill(fill.quantity, fill.price, fill.fee)
        if decision is not None and self.log is not None:
            self._log(timestamp, decision, order_id)
        return decision

    def _close_out(self, timestamp: pd.Timestamp, reason: str, leg: int) -> None:
        """Cancel what is on its way and sell the position at this bar's close."""
        self.broker.cancel(self.symbol)
        held = self.broker.positions.get(self.symbol, 0.0)
        if held:
            closing = self.journal.submit(self.name, self.symbol, -held, timestamp, leg=leg, reason=reason)
            fill = self.broker.fill_at_close(closing.id, self.symbol, -held)
            self.journal.update(closing.id, "filled", fill.quantity, fill.price)
            self.strategy.record_fill(fill.quantity, fill.price, fill.fee)

    def _guard(self, timestamp: pd.Timestamp, close: float) -> None:
        """The bar's controls before any decision: a liquidation asked for, and the gate's loss
        limits (a breach flattens within the bar, at its close, and latches)."""
        equity = self.broker.equity({self.symbol: close})
        day = int(timestamp.value // 86_400_000_000_000)
        if day != self._day:
            self._day, self._day_start = day, equity
        self._peak = max(self._peak, equity)
        if self.controls is not None and self.controls.mode == "liquidate":
            self._close_out(timestamp, f"liquidate: {self.controls.reason}", leg=7)
            self.controls.stop(self.controls.reason)
        if self.gate is None:
            return
        held = self.broker.positions.get(self.symbol, 0.0)
        account = AccountView(self.broker.cash, {self.symbol: held}, {self.symbol: close}, self._day_start, self._peak)
        halted_before = self.gate.halted_rule(timestamp)
        if self.gate.mark(account, timestamp):
            self._close_out(timestamp, "risk flatten", leg=8)
        if self.controls is not None and self.gate.halted_rule(timestamp) != halted_before:
            self.controls.latch(self.gate)  # the kill switch holds across a restart

    def _log(self, timestamp: pd.Timestamp, decision: Any, order_id: str, refusal: str = "") -> None:
        """Log the decision (hold or not) with the policy's distribution and the gate's verdict."""
        assert self.log is not None
        policy = getattr(self.strategy, "policy", None)
        if self._model is None:
            self._model = model_hash(policy) if policy is not None else "none"
        probabilities: list[float] = []
        if policy is not None:
            probabilities = action_probabilities(policy, decision.observation, decision.mask).tolist()
        risk = decision.risk
        if risk is None:
            verdict, reason = "none", ""
        else:
            changed = risk.order is None or risk.order.quantity != risk.requested.quantity
            verdict = "denied" if risk.order is None else ("resized" if changed else "approved")
            reason = f"{risk.rule}: {risk.reason}" if risk.rule else ""
        if refusal:
            verdict, reason = "refused by the node", refusal
        self.log.append(DecisionRecord(
            timestamp, self.name, self.symbol, self._model, int(decision.action), probabilities,
            list(map(bool, decision.mask)), list(map(float, decision.observation)), verdict, reason, order_id,
        ))  # fmt: skip

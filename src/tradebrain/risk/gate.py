"""RiskGate: hard limits every order passes, in training, backtest and live alike.

Order of calls on every bar: `mark(account, t)` first (it may return orders that flatten the
book when the daily-loss or drawdown limit is breached), then `review(order, account, t)` for each
new order. The gate never executes anything; the caller fills what it approves.

How an order is reviewed (position p shares, order q, price P = account.prices[symbol]):

1. Risk-reducing orders, those that move the position towards zero without crossing it
   (|p + q| <= |p| on the same side), are always approved, even while halted.
2. While halted (daily loss until the next UTC date, drawdown until `reset()`), an order that adds
   risk is cut to its risk-reducing part (an order that crosses zero becomes a flatten), or denied.
3. Position % and gross leverage bound the new position to |p'| <= M, with
   M = min(max_position_pct * NAV, max_gross_leverage * NAV - other gross exposure) / P.
   Together with the always-allowed reducing region (between 0 and p) the allowed new positions
   form one interval containing p, so the approved position is p + q clipped to it: the largest
   part of the order that keeps both limits, computed exactly.
4. VaR: the scale s in [s_reduce, s_clip] of the order is binary-searched for the largest s whose
   book has VaR <= var_limit_pct, where s_reduce is the reducing part. Every accepted scale was
   evaluated, so the result always keeps the limit; the search is optimal when VaR is monotone in
   s along the order (true for a single position and "monotone enough" for a book, since VaR is
   convex in the weights for the parametric method).

The arithmetic of every rule lives in `tradebrain.risk.rules` (compiled), shared with the
compiled backtest loop; this class adapts it to Orders, AccountViews and timestamps, and logs.

Limits are evaluated at the marks the account carries, before fees; a fill's fee lowers NAV by
the fee only. Rounding an approved quantity towards zero (e.g. to whole shares) keeps the
position and leverage limits, since it stays inside the allowed interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.core.types import AccountView, Order
from tradebrain.risk import rules
from tradebrain.risk.limits import RiskLimits
from tradebrain.risk.var import _check_returns

RULE_POSITION = rules.RULE_NAMES[rules.POSITION]
RULE_LEVERAGE = rules.RULE_NAMES[rules.LEVERAGE]
RULE_DAILY_LOSS = rules.RULE_NAMES[rules.DAILY_LOSS]
RULE_DRAWDOWN = rules.RULE_NAMES[rules.DRAWDOWN]
RULE_VAR = rules.RULE_NAMES[rules.VAR]
RULE_EQUITY = rules.RULE_NAMES[rules.EQUITY]
_NO_RETURNS = np.zeros((0, 1))


@dataclass(frozen=True)
class RiskEvent:
    """One denial, resize or forced flatten, with the rule that fired and why."""

    timestamp: pd.Timestamp
    symbol: str
    rule: str
    requested: float
    approved: float
    reason: str


@dataclass(frozen=True)
class RiskDecision:
    """The gate's answer: `order` is the requested order unchanged, resized, or None when denied.

    `rule` names the rule that changed the order (None when approved unchanged).
    """

    requested: Order
    order: Order | None
    rule: str | None = None
    reason: str = ""

    @property
    def approved_quantity(self) -> float:
        """Shares approved (0.0 when denied)."""
        return 0.0 if self.order is None else self.order.quantity


def utc_day(timestamp: pd.Timestamp) -> int:
    """Days since 1970-01-01 of `timestamp`'s UTC date (naive timestamps are taken as UTC)."""
    ts = pd.Timestamp(timestamp)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // rules.NANOS_PER_DAY)


def is_risk_reducing(position: float, quantity: float) -> bool:
    """True when the order moves the position towards zero without crossing it."""
    return bool(rules.is_risk_reducing(float(position), float(quantity)))


def review_reason(rule: int, limits: RiskLimits, bound_shares: float | None = None) -> str:
    """Why a review changed an order, in words."""
    if rule in (rules.DAILY_LOSS, rules.DRAWDOWN):
        return "halted: no new risk"
    if rule == rules.EQUITY:
        return "NAV is not positive"
    if rule == rules.VAR:
        return f"VaR at {limits.var_level:.0%} capped at {limits.var_limit_pct:.2%} of NAV"
    if bound_shares is not None:
        return f"|position| capped at {max(bound_shares, 0.0):.6g} shares"
    return f"position capped by {rules.RULE_NAMES[rule]}"


@dataclass
class RiskGate:
    """Stateful gate enforcing `limits`; see the module docstring for the rules and their order.

    `log` collects every denial, resize and forced flatten as a RiskEvent. `state` is the rules'
    state vector (peak, halts; layout in risk/rules.py), shared with the compiled backtest loop.
    """

    limits: RiskLimits
    state: np.ndarray = field(default_factory=rules.new_state, repr=False)
    _log: list[RiskEvent] = field(default_factory=list, repr=False)
    _deferred: list[Callable[[], list[RiskEvent]]] = field(default_factory=list, repr=False)

    @property
    def log(self) -> list[RiskEvent]:
        """Every intervention so far, in order."""
        while self._deferred:
            self._log.extend(self._deferred.pop(0)())
        return self._log

    def defer_log(self, events: Callable[[], list[RiskEvent]]) -> None:
        """Append the events `events()` returns when the log is next read: a backtest's thousands
        of interventions cost nothing until someone looks at them."""
        self._deferred.append(events)

    @property
    def limits_vector(self) -> np.ndarray:
        """The limits in the compiled rules' layout."""
        return rules.limits_vector(self.limits)

    # ----------------------------------------------------------------------------- halts
    def halted_rule(self, timestamp: pd.Timestamp) -> str | None:
        """The rule that forbids new risk at `timestamp` (drawdown first), or None."""
        code = rules.halted_rule(self.state, utc_day(timestamp))
        return rules.RULE_NAMES[code] if code else None

    def reset(self) -> None:
        """Lift every halt and restart the drawdown peak from the next marked equity."""
        self.state[:] = rules.new_state(use_account_peak=False)

    def mark(self, account: AccountView, timestamp: pd.Timestamp) -> list[Order]:
        """Check the loss limits at this bar's marks; return the orders that flatten the book if halted.

        Call on every bar before new orders. The drawdown peak is the higher of account.peak_equity
        and every equity marked so far; after `reset()` only equities marked since the reset count.
        A daily-loss breach halts new risk until the first bar of a later UTC date; a drawdown
        breach until `reset()`. While halted every nonzero position gets a flattening order (again
        on later bars if the caller did not fill it), each logged.
        """
        equity = account.equity
        halted, fired = rules.mark_loss_limits(
            self.state, self.limits_vector, equity, account.peak_equity, account.day_start_equity, utc_day(timestamp)
        )
        if not halted:
            return []
        rule = rules.RULE_NAMES[halted]
        if fired == halted == rules.DRAWDOWN:
            peak = max(self.state[rules.S_PEAK], account.peak_equity)
            reason = f"equity {equity:.2f} is {1 - equity / peak:.2%} below peak"
        elif fired == halted == rules.DAILY_LOSS:
            start = account.day_start_equity
            reason = f"equity {equity:.2f} is {1 - equity / start:.2%} below day start"
        else:
            reason = "halted: flattening remaining positions"
        orders = []
        for symbol, quantity in account.positions.items():
            if quantity != 0.0:
                orders.append(Order(symbol, -quantity, reason=f"risk flatten ({rule})"))
                self.log.append(RiskEvent(timestamp, symbol, rule, 0.0, -quantity, reason))
        return orders

    # ----------------------------------------------------------------------------- review
    def review(
        self,
        order: Order,
        account: AccountView,
        timestamp: pd.Timestamp,
        returns: Mapping[str, np.ndarray] | None = None,
    ) -> RiskDecision:
        """Approve `order` unchanged, resize it to the largest part keeping every limit, or deny it.

        `returns` maps every symbol of the resulting book to its daily returns (equal lengths,
        most recent last); the VaR limit is checked only when it is given.
        """
        q = float(order.quantity)
        if not math.isfinite(q):
            raise InputError(f"order quantity for {order.symbol} must be finite, got {order.quantity}")
        price = account.prices.get(order.symbol)
        if price is None or not math.isfinite(price) or price <= 0:
            raise InputError(f"no positive finite price for {order.symbol} in the account (got {price})")
        p = float(account.positions.get(order.symbol, 0.0))
        nav = account.equity
        matrix, weights, index = _NO_RETURNS, np.zeros(1), 0
        if returns is not None and self.limits.var_limit_pct is not None and nav > 0.0:
            matrix, weights, index = self._var_inputs(account, order.symbol, nav, returns)
        approved, rule = rules.review_quantity(
            self.state, self.limits_vector, p, q, float(price), nav, account.gross_exposure,
            utc_day(timestamp), matrix, weights, index,
        )  # fmt: skip
        if rule == rules.NO_RULE:
            return RiskDecision(order, order)
        bound = self._bound(account, p, float(price), nav) if rule in (rules.POSITION, rules.LEVERAGE) else None
        reason = review_reason(rule, self.limits, bound)
        name = rules.RULE_NAMES[rule]
        self.log.append(RiskEvent(timestamp, order.symbol, name, order.quantity, approved, reason))
        approved_order = Order(order.symbol, approved, order.reason) if approved != 0.0 else None
        return RiskDecision(order, approved_order, name, reason)

    def _bound(self, account: AccountView, position: float, price: float, nav: float) -> float:
        """The |position| bound (shares) the position and leverage limits allow, for the log."""
        bound = math.inf
        if self.limits.max_position_pct is not None:
            bound = self.limits.max_position_pct * nav / price
        if self.limits.max_gross_leverage is not None:
            other = account.gross_exposure - abs(position) * price
            bound = min(bound, (self.limits.max_gross_leverage * nav - other) / price)
        return bound

    def _var_inputs(
        self, account: AccountView, symbol: str, nav: float, returns: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Returns matrix, book weights and the order's column for the VaR rule."""
        held = sorted({s for s, qty in account.positions.items() if qty != 0.0} | {symbol})
        missing = [s for s in held if s not in returns]
        if missing:
            raise InputError(f"returns missing for {missing}; pass daily returns for every symbol of the book")
        columns = [np.asarray(returns[s], dtype=float) for s in held]
        lengths = {len(c) for c in columns}
        if len(lengths) != 1:
            raise InputError(f"returns for {held} must have equal lengths, got {sorted(lengths)}")
        matrix = _check_returns(np.column_stack(columns)[-self.limits.var_window :], self.limits.var_level)
        weights = np.array([account.positions.get(s, 0.0) * account.prices[s] / nav for s in held])
        return np.ascontiguousarray(matrix), weights, held.index(symbol)

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
from tradebrain.risk.limits import RiskLimits
from tradebrain.risk.var import var_function

RULE_POSITION = "max_position_pct"
RULE_LEVERAGE = "max_gross_leverage"
RULE_DAILY_LOSS = "max_daily_loss_pct"
RULE_DRAWDOWN = "max_drawdown_pct"
RULE_VAR = "var_limit_pct"
RULE_EQUITY = "nonpositive_equity"

_SEARCH_STEPS = 40


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


def _utc_date(timestamp: pd.Timestamp) -> pd.Timestamp:
    """The UTC calendar date of `timestamp` (naive timestamps are taken as UTC)."""
    ts = pd.Timestamp(timestamp)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.normalize()


def is_risk_reducing(position: float, quantity: float) -> bool:
    """True when the order moves the position towards zero without crossing it."""
    new = position + quantity
    return abs(new) <= abs(position) and (new == 0.0 or (new > 0.0) == (position > 0.0))


@dataclass
class RiskGate:
    """Stateful gate enforcing `limits`; see the module docstring for the rules and their order.

    `log` collects every denial, resize and forced flatten as a RiskEvent.
    """

    limits: RiskLimits
    log: list[RiskEvent] = field(default_factory=list)
    _daily_halt_date: pd.Timestamp | None = field(default=None, repr=False)
    _drawdown_halt: bool = field(default=False, repr=False)
    _peak: float = field(default=-math.inf, repr=False)
    _use_account_peak: bool = field(default=True, repr=False)

    # ----------------------------------------------------------------------------- halts
    def halted_rule(self, timestamp: pd.Timestamp) -> str | None:
        """The rule that forbids new risk at `timestamp` (drawdown first), or None."""
        if self._drawdown_halt:
            return RULE_DRAWDOWN
        if self._daily_halt_date is not None and _utc_date(timestamp) <= self._daily_halt_date:
            return RULE_DAILY_LOSS
        return None

    def reset(self) -> None:
        """Lift every halt and restart the drawdown peak from the next marked equity."""
        self._drawdown_halt = False
        self._daily_halt_date = None
        self._peak = -math.inf
        self._use_account_peak = False

    def mark(self, account: AccountView, timestamp: pd.Timestamp) -> list[Order]:
        """Check the loss limits at this bar's marks; return the orders that flatten the book if halted.

        Call on every bar before new orders. The drawdown peak is the higher of account.peak_equity
        and every equity marked so far; after `reset()` only equities marked since the reset count.
        A daily-loss breach halts new risk until the first bar of a later UTC date; a drawdown
        breach until `reset()`. While halted every nonzero position gets a flattening order (again
        on later bars if the caller did not fill it), each logged.
        """
        equity = account.equity
        self._peak = max(self._peak, equity)
        peak = max(self._peak, account.peak_equity) if self._use_account_peak else self._peak
        reasons: dict[str, str] = {}
        dd = self.limits.max_drawdown_pct
        if dd is not None and peak > 0 and equity <= peak * (1.0 - dd):
            if not self._drawdown_halt:
                reasons[RULE_DRAWDOWN] = f"equity {equity:.2f} is {1 - equity / peak:.2%} below peak"
            self._drawdown_halt = True
        daily = self.limits.max_daily_loss_pct
        start = account.day_start_equity
        if daily is not None and start > 0 and equity <= start * (1.0 - daily):
            today = _utc_date(timestamp)
            if self._daily_halt_date is None or today > self._daily_halt_date:
                reasons.setdefault(RULE_DAILY_LOSS, f"equity {equity:.2f} is {1 - equity / start:.2%} below day start")
            self._daily_halt_date = today
        rule = self.halted_rule(timestamp)
        if rule is None:
            return []
        reason = reasons.get(rule, "halted: flattening remaining positions")
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
        if q == 0.0 or is_risk_reducing(p, q):
            return RiskDecision(order, order)
        # the reducing part: flatten when the order crosses zero, nothing otherwise
        reduce_q = -p if p != 0.0 and p + q != 0.0 and (p + q > 0.0) != (p > 0.0) else 0.0
        halted = self.halted_rule(timestamp)
        if halted is not None:
            return self._decide(order, reduce_q, halted, "halted: no new risk", timestamp)
        nav = account.equity
        if nav <= 0.0:
            return self._decide(order, reduce_q, RULE_EQUITY, f"NAV {nav:.2f} is not positive", timestamp)

        approved_q, rule, reason = q, None, ""
        bound, bound_rule = math.inf, ""
        if self.limits.max_position_pct is not None:
            bound, bound_rule = self.limits.max_position_pct * nav / price, RULE_POSITION
        if self.limits.max_gross_leverage is not None:
            other = account.gross_exposure - abs(p) * price
            lev_bound = (self.limits.max_gross_leverage * nav - other) / price
            if lev_bound < bound:
                bound, bound_rule = lev_bound, RULE_LEVERAGE
        target = p + q
        if abs(target) > bound:
            hi = max(bound, p, 0.0)
            lo = min(-bound, p, 0.0)
            clipped = min(max(target, lo), hi)
            approved_q, rule = clipped - p, bound_rule
            reason = f"|position| capped at {max(bound, 0.0):.6g} shares"

        if self.limits.var_limit_pct is not None and returns is not None and approved_q != 0.0:
            limit = self.limits.var_limit_pct
            s_reduce = reduce_q / q
            s_hi = approved_q / q

            var_of = self._var_model(account, order.symbol, nav, returns)

            def var_at(scale: float) -> float:
                return var_of(p + scale * q)

            if var_of(p + approved_q) > limit:
                lo_s, hi_s = s_reduce, s_hi
                for _ in range(_SEARCH_STEPS):
                    mid = 0.5 * (lo_s + hi_s)
                    if var_at(mid) <= limit:
                        lo_s = mid
                    else:
                        hi_s = mid
                approved_q, rule = (reduce_q if lo_s == s_reduce else lo_s * q), RULE_VAR
                reason = f"VaR at {self.limits.var_level:.0%} capped at {limit:.2%} of NAV"
        if rule is None:
            return RiskDecision(order, order)
        return self._decide(order, approved_q, rule, reason, timestamp)

    def _var_model(
        self, account: AccountView, symbol: str, nav: float, returns: Mapping[str, np.ndarray]
    ) -> Callable[[float], float]:
        """VaR (fraction of NAV) of the book as a function of `symbol`'s new position in shares."""
        held = sorted({s for s, qty in account.positions.items() if qty != 0.0} | {symbol})
        missing = [s for s in held if s not in returns]
        if missing:
            raise InputError(f"returns missing for {missing}; pass daily returns for every symbol of the book")
        columns = [np.asarray(returns[s], dtype=float) for s in held]
        lengths = {len(c) for c in columns}
        if len(lengths) != 1:
            raise InputError(f"returns for {held} must have equal lengths, got {sorted(lengths)}")
        matrix = np.column_stack(columns)[-self.limits.var_window :]
        var_of_weights = var_function(matrix, self.limits.var_method, self.limits.var_level)
        weights = np.array([account.positions.get(s, 0.0) * account.prices[s] / nav for s in held])
        index, price = held.index(symbol), account.prices[symbol]

        def var_of(new_position: float) -> float:
            weights[index] = new_position * price / nav
            return var_of_weights(weights)

        return var_of

    def _decide(self, order: Order, approved_q: float, rule: str, reason: str, timestamp: pd.Timestamp) -> RiskDecision:
        """A resize (or denial when nothing is left), logged."""
        self.log.append(RiskEvent(timestamp, order.symbol, rule, order.quantity, approved_q, reason))
        approved = Order(order.symbol, approved_q, order.reason) if approved_q != 0.0 else None
        return RiskDecision(order, approved, rule, reason)

"""The paper broker: orders filled against live bars by the simulated venue, exactly as the
backtest fills them (DESIGN principle 1: it calls market/fills.py and market/venue.py, never the
backtester).

An order submitted after bar t closes reaches the venue `delay` bars later (the venue's
`market_delay`: 0 for the same-bar close, 1 for the next bar's open, plus any latency) and fills
at that bar's reference price (its open, VWAP or typical price; the close without delay), moved
against the trader by the half spread known before the bar (Corwin-Schultz from the two bars
before it, or a fixed one) and the slippage, paying the venue's ticket fee. A buy may be sized in
cash (`notional`) rather than shares: the venue then buys what that cash affords at the fill price
after fees (`affordable_quantity`), as the backtest's all-in entries do, so the two agree to the
cent. A client order id seen before is ignored, so a node that re-sends after a crash never
doubles an order. Participation caps, impact and limit orders are the backtest's alone for now.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.market.fills import BUY, SELL, affordable_quantity, market_delay, market_price, ticket_fee
from tradebrain.market.venue import BPS, TIMING_CODES, VenueConfig, corwin_schultz


@dataclass(frozen=True)
class PaperFill:
    """One fill: the order, the bar it filled on, signed shares, price and fee."""

    order_id: str
    symbol: str
    timestamp: pd.Timestamp
    quantity: float
    price: float
    fee: float


@dataclass
class _Working:
    order_id: str
    symbol: str
    quantity: float | None
    notional: float | None
    fill_at: int  # the bar count of the symbol at which the order fills


class PaperBroker:
    """Cash and positions, filled by the venue against the bars given to `on_bar` (one symbol's
    bar at a time, in time order per symbol); `fractional` shares unless whole ones are asked."""

    def __init__(self, venue: VenueConfig, cash: float, fractional: bool = True) -> None:
        if venue.participation is not None or (venue.impact != "none" and venue.impact_coefficient > 0):
            raise InputError("the paper broker does not model a participation cap or impact yet; leave them unset")
        if venue.latency_ms > 0:
            raise InputError("give the paper broker its latency in bars (latency_bars), as the bar clock counts it")
        if not (math.isfinite(cash) and cash > 0):
            raise InputError(f"cash must be finite and > 0, got {cash!r}")
        self.venue = venue
        self.cash = float(cash)
        self.fractional = fractional
        self.positions: dict[str, float] = {}
        self.fills: list[PaperFill] = []
        self.delay = int(market_delay(TIMING_CODES[venue.fill], venue.latency_bars))
        self._seen: set[str] = set()
        self._working: list[_Working] = []
        self._bars: dict[str, int] = {}  # bars seen per symbol
        self._recent: dict[str, deque[tuple[float, float, float]]] = {}  # (high, low, close) of the last two bars
        self._last_bar: dict[str, tuple[pd.Timestamp, float, float]] = {}  # (time, close, its half spread)

    def submit(self, order_id: str, symbol: str, quantity: float | None = None, notional: float | None = None) -> bool:
        """Send an order for `quantity` shares (signed) or, for a buy, `notional` cash; it fills
        `delay` bars after the last bar seen of `symbol` (at that bar's close when the delay is 0).
        Returns False (and does nothing) for an id already seen."""
        if order_id in self._seen:
            return False
        if (quantity is None) == (notional is None):
            raise InputError("give an order either quantity (shares) or notional (cash for a buy), not both")
        if quantity is not None and not (math.isfinite(quantity) and quantity != 0):
            raise InputError(f"order quantity must be finite and non-zero, got {quantity!r}")
        if notional is not None and not (math.isfinite(notional) and notional > 0):
            raise InputError(f"order notional must be finite and > 0, got {notional!r}")
        self._seen.add(order_id)
        order = _Working(order_id, symbol, quantity, notional, self._bars.get(symbol, 0) - 1 + self.delay)
        if self.delay == 0:
            if symbol not in self._last_bar:
                raise InputError(f"a same-bar close fill needs a bar of {symbol} first")
            self._fill(order, *self._last_bar[symbol])
        else:
            self._working.append(order)
        return True

    def on_bar(self, symbol: str, timestamp: pd.Timestamp, open_: float, high: float, low: float, close: float,
               vwap: float = math.nan) -> list[PaperFill]:  # fmt: skip
        """A new bar of `symbol`: fill the orders due on it; returns their fills."""
        for name, value in (("open", open_), ("high", high), ("low", low), ("close", close)):
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{symbol} bar at {timestamp}: {name} is {value!r}; prices must be finite and > 0")
        index = self._bars.get(symbol, 0)
        half = self._half_spread(symbol)
        timing = self.venue.fill
        if timing == "next_vwap" and math.isfinite(vwap):
            reference = vwap
        elif timing in ("next_vwap", "next_typical"):
            reference = (high + low + close) / 3.0
        else:
            reference = open_
        first = len(self.fills)
        due = [order for order in self._working if order.symbol == symbol and order.fill_at == index]
        self._working = [order for order in self._working if not (order.symbol == symbol and order.fill_at == index)]
        for order in due:
            self._fill(order, timestamp, reference, half)
        recent = self._recent.setdefault(symbol, deque(maxlen=2))
        recent.append((high, low, close))
        self._bars[symbol] = index + 1
        self._last_bar[symbol] = (timestamp, close, half)
        return self.fills[first:]

    def _half_spread(self, symbol: str) -> float:
        """The half spread of the next bar of `symbol` (known before it: from the two bars before it)."""
        venue = self.venue
        if venue.spread == "none":
            return 0.0
        if venue.spread == "fixed":
            return venue.spread_bps / 2.0 / BPS
        if venue.spread != "range":
            raise InputError(f"the paper broker supports spread none, fixed or range, not {venue.spread!r}")
        recent = self._recent.get(symbol)
        if recent is None or len(recent) < 2:
            return 0.0
        (h0, l0, c0), (h1, l1, c1) = recent
        return float(corwin_schultz(np.array([h0, h1]), np.array([l0, l1]), np.array([c0, c1]))[1] / 2.0)

    def _fill(self, order: _Working, timestamp: pd.Timestamp, reference: float, half: float) -> None:
        venue = self.venue
        slippage = venue.slippage_bps / BPS
        held = self.positions.get(order.symbol, 0.0)
        if order.notional is not None:
            price = float(market_price(reference, BUY, half, slippage, 0.0))
            quantity = float(affordable_quantity(min(order.notional, self.cash), price, venue.fee_rate,
                                                 venue.fee_per_share, venue.min_fee, 0.0, self.fractional))  # fmt: skip
            if quantity <= 0:
                return
        else:
            assert order.quantity is not None
            quantity = order.quantity
            price = float(market_price(reference, BUY if quantity > 0 else SELL, half, slippage, 0.0))
        fee = float(ticket_fee(quantity, price, venue.fee_per_share, venue.fee_rate, venue.min_fee))
        self.cash -= quantity * price + fee
        self.positions[order.symbol] = held + quantity
        self.fills.append(PaperFill(order.order_id, order.symbol, timestamp, quantity, price, fee))

    def cancel(self, symbol: str) -> list[str]:
        """Cancel every order of `symbol` still on its way; returns their ids."""
        cancelled = [order.order_id for order in self._working if order.symbol == symbol]
        self._working = [order for order in self._working if order.symbol != symbol]
        return cancelled

    def fill_at_close(self, order_id: str, symbol: str, quantity: float) -> PaperFill:
        """Fill `quantity` of `symbol` at once at the last bar's close with that bar's half spread
        (the session's forced exit, as the backtest's `flat_at_close`)."""
        if symbol not in self._last_bar:
            raise InputError(f"no bar of {symbol} yet to fill at its close")
        self._seen.add(order_id)
        self._fill(_Working(order_id, symbol, quantity, None, -1), *self._last_bar[symbol])
        return self.fills[-1]

    def equity(self, marks: dict[str, float]) -> float:
        """Cash plus every position at `marks` (price per symbol)."""
        return self.cash + sum(quantity * marks[symbol] for symbol, quantity in self.positions.items())

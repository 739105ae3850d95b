"""The simulated venue's compiled fill rules: reference prices, spread, slippage and impact, fees,
participation caps, limit orders, a book of working orders, and the all-in entry size, with
(`affordable_with_impact`) or without (`affordable_quantity`) impact. Shared by the backtest loop, the
envs and the paper broker, so all of them fill alike (DESIGN principle 1). The config that fills
`params` and the spread estimates live in market/venue.py.

Layouts (float64 arrays, so that numba sees one type):
- `params`: the V_* slots below, written by `VenueConfig.params()`.
- an order row: the ORD_* columns of ORDER_COLUMNS; `orders[:n_orders]` are the working orders,
  kept in submission order.
- a fill row: [bar, symbol, quantity, price, fee] (FILL_* below), the layout of backtest/ledger.py.

Time on the bar clock: a decision taken at the close of bar t is an order submitted at bar t, and
its prices come as events close(t), open(t+1), close(t+1), open(t+2), ... A latency of L bars
delays the order by L bars on that clock (its active-from bar is t + L):
- close: with L = 0 it fills at the decision bar's close (optimistic: the decision saw that price);
  with L >= 1 at the open of bar t + L, the first price after it arrives. So one bar of latency with
  close timing is exactly a next-open fill.
- next_open, next_vwap, next_typical: the open, the VWAP (the typical price when the VWAP is
  missing) or the typical price (h + l + c) / 3 of bar t + 1 + L. These timings are close timing
  with one bar of latency built in, and every bar of latency on top delays the fill by one more bar
  (so the realism ladder's "+ 1 bar latency" rung after "next open" moves every fill one bar).
The working rest of a partially filled order fills at the open of a later bar. A limit order fills
only on a bar at or after its active-from bar, and after its submit bar, that trades through its
price.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

TIMING_CLOSE, TIMING_NEXT_OPEN, TIMING_NEXT_VWAP, TIMING_NEXT_TYPICAL = range(4)
BUY, SELL = 1, -1

# params slots: fill timing code, slippage and impact coefficient (fractions), participation cap
# (NaN: unlimited), latency in bars, fee per share, fee rate, minimum fee per ticket, whole shares (1/0)
V_TIMING, V_SLIPPAGE, V_IMPACT, V_PARTICIPATION, V_LATENCY = range(5)
V_FEE_PER_SHARE, V_FEE_RATE, V_MIN_FEE, V_WHOLE = 5, 6, 7, 8
N_PARAMS = 9

ORDER_COLUMNS = ("symbol", "remaining", "limit", "active_from", "submit_bar", "id")
ORD_SYMBOL, ORD_REMAINING, ORD_LIMIT, ORD_ACTIVE, ORD_SUBMIT, ORD_ID = range(6)

FILL_BAR, FILL_SYMBOL, FILL_QUANTITY, FILL_PRICE, FILL_FEE = range(5)  # as in backtest/ledger.py
FILL_COLUMNS = ("bar", "symbol", "quantity", "price", "fee")
ROUNDING = 1e-9  # relative float slack of the participation cap (no dust fills or dust left working)
RELATIVE_SIZE = 1e-12  # relative width at which the impact-aware entry size stops narrowing


@njit(cache=True)
def reference_price(open_: float, high: float, low: float, close: float, vwap: float, timing: int) -> float:
    """The price a market order fills around on its fill bar, before costs: the close, the open,
    the VWAP (the typical price when the bar has none) or the typical price (h + l + c) / 3. The
    caller passes the fill bar (the decision bar for TIMING_CLOSE, a later bar otherwise)."""
    if timing == TIMING_CLOSE:
        return close
    if timing == TIMING_NEXT_OPEN:
        return open_
    typical = (high + low + close) / 3.0
    if timing == TIMING_NEXT_VWAP and not math.isnan(vwap):
        return vwap
    return typical


@njit(cache=True)
def market_price(reference: float, side: int, half_spread: float, slippage: float, impact: float) -> float:
    """What a market order pays (side BUY) or receives (side SELL) per share: the reference moved
    against it by the half-spread, the slippage and the impact (all fractions of price)."""
    cost = half_spread + slippage + impact
    return reference * (1.0 + cost) if side > 0 else reference * (1.0 - cost)


@njit(cache=True)
def sqrt_impact(quantity: float, volume: float, sigma: float, coefficient: float) -> float:
    """Square-root impact as a fraction of price: coefficient * sigma * sqrt(|quantity| / volume),
    sigma the per-bar volatility. A bar without volume (0 or NaN) is charged as if the order were
    the whole bar (ratio 1); under a participation cap such a bar fills nothing anyway. A missing
    (NaN) or zero sigma means no impact."""
    if coefficient == 0.0 or quantity == 0.0 or not sigma > 0.0:
        return 0.0
    ratio = abs(quantity) / volume if volume > 0.0 else 1.0
    return coefficient * sigma * math.sqrt(ratio)


@njit(cache=True)
def ticket_fee(quantity: float, price: float, per_share: float, rate: float, minimum: float) -> float:
    """The fee of one fill: per_share * shares + rate * traded value, at least `minimum`; nothing
    when nothing filled. Each fill is a ticket, so every partial fill pays the minimum."""
    if quantity == 0.0:
        return 0.0
    shares = abs(quantity)
    return max(per_share * shares + rate * shares * price, minimum)


@njit(cache=True)
def affordable_quantity(
    budget: float, price: float, rate: float, per_share: float, minimum: float, fixed: float, fractional: bool
) -> float:
    """Shares an all-in entry buys (or shorts) at `price` (spread, slippage and impact included)
    with `budget` after every fee: the fee rate and fee per share, at least the minimum fee, plus a
    `fixed` fee per order; whole shares unless `fractional`; 0 if nothing is affordable. The one
    sizing rule of the backtest's ledger, the day-trading env and its batched twin."""
    affordable = (budget - fixed) / (price * (1.0 + rate) + per_share)
    if minimum > 0.0:  # when the minimum binds the fee is the minimum, not the linear one
        affordable = min(affordable, (budget - fixed - minimum) / price)
    if not affordable > 0:
        return 0.0
    return affordable if fractional else float(math.floor(affordable))


@njit(cache=True)
def _sizing_price(quantity: float, market: tuple[float, int, float, float, float, float, float]) -> float:
    """The per-share price an entry of `quantity` shares is sized at, `market` being (reference,
    side, half-spread, slippage, bar volume, sigma, impact coefficient): a buy's own fill price
    (`market_price` with its `sqrt_impact`); a short's sell price *raised* by its impact (see
    `affordable_with_impact`). Increasing in the quantity on both sides."""
    reference, side, half_spread, slippage, volume, sigma, coefficient = market
    impact = sqrt_impact(quantity, volume, sigma, coefficient)
    return market_price(reference, side, half_spread, slippage, impact if side > 0 else -impact)


@njit(cache=True)
def _fits(
    quantity: float,
    budget: float,
    market: tuple[float, int, float, float, float, float, float],
    fees: tuple[float, float, float, float],
) -> bool:
    """Whether an entry of `quantity` shares fits `budget`: its value at its sizing price
    (`_sizing_price`), its ticket fee and the fixed fee per order, `fees` being (rate, per share,
    minimum, fixed), computed as the ledger books them, so a size that fits never overdraws."""
    rate, per_share, minimum, fixed = fees
    price = _sizing_price(quantity, market)
    return quantity * price + (ticket_fee(quantity, price, per_share, rate, minimum) + fixed) <= budget


@njit(cache=True)
def affordable_with_impact(
    budget: float,
    reference: float,
    side: int,
    half_spread: float,
    slippage: float,
    volume: float,
    sigma: float,
    coefficient: float,
    rate: float,
    per_share: float,
    minimum: float,
    fixed: float,
    fractional: bool,
) -> float:
    """Shares an all-in entry on `side` buys (or shorts) with `budget` when the fill price depends
    on the quantity through square-root impact: the largest q whose cost
    q * price(q) + ticket fee + `fixed` fits the budget, price(q) = reference moved by the
    half-spread, the slippage and `sqrt_impact(q, volume, sigma, coefficient)`. Whole shares
    unless `fractional`; 0 if nothing is affordable.

    Why a search: `affordable_quantity` inverts a cost linear in q, which impact makes
    q * (a + b sqrt(q)). The cost is increasing in q, so the q that fit form an interval [0, q*]:
    - the impact-free size (`affordable_quantity` at the price without impact) is an upper bound;
    - g(q) = the size affordable at price(q) maps q <= q* above q* and q >= q* below it, so a few
      fixed-point steps from the upper bound close a bracket [lo, hi] around q* (fast when
      impact is small, the usual case);
    - bisection then narrows it to RELATIVE_SIZE (1e-12) of q*, keeping lo a size that fits;
      lo is returned (floored to whole shares, or one share more when that still fits). Every
      size taken is checked against the exact cost the ledger books, so the entry never spends
      more than the budget.
    A short is sized at its sell price *raised* by its impact rather than lowered (which would
    let a bigger short look cheaper and the cost stop growing): impact only ever shrinks an
    entry, on both sides. With no impact (coefficient, sigma or quantity 0) it is exactly
    `affordable_quantity` at the impact-free price.
    """
    market = (reference, side, half_spread, slippage, volume, sigma, coefficient)
    fees = (rate, per_share, minimum, fixed)
    base = market_price(reference, side, half_spread, slippage, 0.0)
    hi = affordable_quantity(budget, base, rate, per_share, minimum, fixed, True)
    if not hi > 0.0:
        return 0.0
    price = _sizing_price(hi, market)
    if price == base:  # no impact on this bar (no volatility yet): the linear rule is exact
        return affordable_quantity(budget, base, rate, per_share, minimum, fixed, fractional)
    lo = 0.0  # fits: budget > fixed, or hi would be 0
    for _ in range(4):  # fixed-point steps: g(hi) <= q* <= g(lo)
        below = affordable_quantity(budget, price, rate, per_share, minimum, fixed, True)
        if below > lo and _fits(below, budget, market, fees):
            lo = below
        above = affordable_quantity(budget, _sizing_price(lo, market), rate, per_share, minimum, fixed, True)
        if lo < above < hi:
            hi = above
        if hi - lo <= RELATIVE_SIZE * hi:
            break
        price = _sizing_price(hi, market)
    for _ in range(100):  # bisection, lo always fitting; about 40 halvings at most from any bracket
        mid = 0.5 * (lo + hi)
        if hi - lo <= RELATIVE_SIZE * hi or not lo < mid < hi:  # narrow enough, or float resolution reached
            break
        if _fits(mid, budget, market, fees):
            lo = mid
        else:
            hi = mid
    if fractional:
        return lo
    whole = float(math.floor(lo))
    # hi is an upper bound up to rounding: a whole share just above lo may still fit
    return whole + 1.0 if _fits(whole + 1.0, budget, market, fees) else whole


@njit(cache=True)
def participation_fill(remaining: float, volume: float, cap: float, whole: bool) -> float:
    """The part of a signed `remaining` quantity that fills on a bar trading `volume` shares when
    at most `cap` of the volume may be taken; NaN cap means no cap. The result has the sign of
    `remaining`; a capped amount is floored to whole shares when `whole` (a remaining that fits
    is filled as it is, so no fractional residue is left working). No volume (0 or NaN) under a
    cap fills nothing."""
    if math.isnan(cap):
        return remaining
    room = cap * volume if volume > 0.0 else 0.0
    wanted = abs(remaining)
    if wanted <= room * (1.0 + ROUNDING):  # within rounding of the room: all of it, leaving no dust working
        return remaining
    if whole:  # the tolerance keeps 0.29 * 100 = 28.999999999999996 at 29 shares
        room = math.floor(room + ROUNDING * max(room, 1.0))
    return room if remaining > 0.0 else -room


@njit(cache=True)
def limit_fill(side: int, limit: float, open_: float, high: float, low: float) -> float:
    """The fill price of a limit order on a bar, or NaN when it does not fill. A buy fills only if
    the bar trades below its limit (low < limit), a sell only if it trades above it (high > limit):
    touching the price is not enough, a stand-in for the queue ahead. It fills at the open when
    the open is already at or through the limit, else at the limit: never worse than the limit."""
    if side > 0:
        if low < limit:
            return open_ if open_ <= limit else limit
        return math.nan
    if high > limit:
        return open_ if open_ >= limit else limit
    return math.nan


@njit(cache=True)
def add_order(
    orders: np.ndarray,
    n_orders: int,
    symbol: int,
    quantity: float,
    limit: float,
    submit_bar: int,
    latency: int,
    order_id: float,
) -> int:
    """Append a working order for symbol `symbol` (`quantity` signed, `limit` NaN for a market
    order) decided at bar `submit_bar`, active from `submit_bar + latency`; returns the new order
    count, the same count for a zero quantity, or -1 when `orders` has no room (the caller's
    buffer is full)."""
    if quantity == 0.0:
        return n_orders
    if n_orders >= orders.shape[0]:
        return -1
    orders[n_orders, ORD_SYMBOL] = symbol
    orders[n_orders, ORD_REMAINING] = quantity
    orders[n_orders, ORD_LIMIT] = limit
    orders[n_orders, ORD_ACTIVE] = submit_bar + latency
    orders[n_orders, ORD_SUBMIT] = submit_bar
    orders[n_orders, ORD_ID] = order_id
    return n_orders + 1


@njit(cache=True)
def cancel_orders(orders: np.ndarray, n_orders: int, symbol: int) -> int:
    """Cancel every working order of `symbol` (every order when `symbol` < 0), keeping the others
    in submission order; returns the new order count."""
    kept = 0
    for i in range(n_orders):
        if symbol < 0 or orders[i, ORD_SYMBOL] == symbol:
            continue
        if kept != i:
            orders[kept, :] = orders[i, :]
        kept += 1
    return kept


@njit(cache=True)
def working_quantity(orders: np.ndarray, n_orders: int, symbol: int) -> float:
    """The signed quantity still working for `symbol` (what a risk check adds to the position)."""
    total = 0.0
    for i in range(n_orders):
        if orders[i, ORD_SYMBOL] == symbol:
            total += orders[i, ORD_REMAINING]
    return total


@njit(cache=True)
def volume_taken(fills: np.ndarray, n_fills: int, t: int, symbol: int) -> float:
    """Shares of `symbol` already filled on bar t: the fill rows of bar t at the end of `fills[:n_fills]`
    (rows are written in bar order). Scanned rather than kept in a per-symbol array, so that a call
    allocates nothing; the scan covers only bar t's rows."""
    taken = 0.0
    f = n_fills - 1
    while f >= 0 and fills[f, FILL_BAR] == t:
        if fills[f, FILL_SYMBOL] == symbol:
            taken += abs(fills[f, FILL_QUANTITY])
        f -= 1
    return taken


# Inlined into its (compiled) callers: passing fourteen arrays to a call that is not inlined costs about
# 160 ns of argument passing and reference counting, more than matching a bar's orders.
@njit(cache=True)
def market_delay(timing: int, latency: int) -> int:
    """Bars from a market order's decision bar to its fill bar, the rule of the module docstring:
    close timing fills `latency` bars later (on the decision bar itself without latency), the
    next-bar timings one bar later still. Every caller (the order book here, the backtest's
    fast path) asks this function, so the rule is written once."""
    return latency if timing == TIMING_CLOSE else latency + 1


@njit(cache=True, inline="always")
def match_orders(
    orders: np.ndarray,
    n_orders: int,
    t: int,
    opens: np.ndarray,
    highs: np.ndarray,
    lows: np.ndarray,
    closes: np.ndarray,
    vwaps: np.ndarray,
    volumes: np.ndarray,
    half_spreads: np.ndarray,
    sigmas: np.ndarray,
    params: np.ndarray,
    fills: np.ndarray,
    n_fills: int,
) -> tuple[int, int]:
    """Fill what the working orders can on bar t; returns (order count, fill count).

    Per-bar arrays are (bars, symbols). Orders are taken in submission order; an order is eligible
    when t >= its active-from bar (plus one bar for a market order with a next-bar timing) and, for
    limit orders or timings other than close, t > its submit bar (see the module docstring). A
    market order fills at `market_price` around the timing's reference on bar t (close timing on a
    later bar than its decision: the open), paying
    the half-spread of bar t, the slippage and its own square-root impact; a limit order fills at
    `limit_fill`'s price with no further cost. Under a participation cap the symbol's fills on bar
    t, counting every fill row already recorded for bar t (so calling this twice on one bar, at
    the open and at the close, never takes more), stay within cap * volume; the rest keeps working.
    Each fill pays `ticket_fee` and is written as a row [bar, symbol, quantity, price, fee];
    finished orders are removed and the rest compacted in order. When `fills` is full, matching
    stops and the unfilled orders stay working (the caller sees n_fills == len(fills)).
    """
    timing = int(params[V_TIMING])
    slippage = params[V_SLIPPAGE]
    coefficient = params[V_IMPACT]
    cap = params[V_PARTICIPATION]
    whole = params[V_WHOLE] != 0.0
    capped = not math.isnan(cap)
    kept = 0
    for i in range(n_orders):
        j = int(orders[i, ORD_SYMBOL])
        remaining = orders[i, ORD_REMAINING]
        limit = orders[i, ORD_LIMIT]
        submit = orders[i, ORD_SUBMIT]
        is_limit = not math.isnan(limit)
        later = t > submit
        waits = 0 if is_limit else market_delay(timing, 0)  # beyond its arrival (active-from) bar
        quantity = 0.0
        if (
            t >= orders[i, ORD_ACTIVE] + waits
            and (later or (timing == TIMING_CLOSE and not is_limit))
            and n_fills < fills.shape[0]
        ):
            side = BUY if remaining > 0.0 else SELL
            price = math.nan
            if is_limit:
                price = limit_fill(side, limit, opens[t, j], highs[t, j], lows[t, j])
            if not (is_limit and math.isnan(price)):
                if capped:
                    budget = cap * volumes[t, j]
                    room = budget - volume_taken(fills, n_fills, t, j)
                    if room <= ROUNDING * budget:  # used up, up to float rounding: no dust fills
                        room = 0.0
                    quantity = participation_fill(remaining, room, 1.0, whole)
                else:
                    quantity = remaining
            if quantity != 0.0:
                if not is_limit:
                    code = TIMING_NEXT_OPEN if timing == TIMING_CLOSE and later else timing
                    reference = reference_price(opens[t, j], highs[t, j], lows[t, j], closes[t, j], vwaps[t, j], code)
                    impact = sqrt_impact(quantity, volumes[t, j], sigmas[t, j], coefficient)
                    price = market_price(reference, side, half_spreads[t, j], slippage, impact)
                fee = ticket_fee(quantity, price, params[V_FEE_PER_SHARE], params[V_FEE_RATE], params[V_MIN_FEE])
                fills[n_fills, FILL_BAR] = t
                fills[n_fills, FILL_SYMBOL] = j
                fills[n_fills, FILL_QUANTITY] = quantity
                fills[n_fills, FILL_PRICE] = price
                fills[n_fills, FILL_FEE] = fee
                n_fills += 1
                remaining = remaining - quantity
        if remaining == 0.0:
            continue
        if kept != i:
            orders[kept, :] = orders[i, :]
        orders[kept, ORD_REMAINING] = remaining
        kept += 1
    return kept, n_fills

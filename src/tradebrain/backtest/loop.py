"""The event-driven backtest loop, written once.

`simulate` is compiled with numba (once, cached on disk) and, with a policy kernel (see
rl/kernels.py), runs entirely in machine code. The same function's pure-Python original
(`simulate.py_func`) runs any Python policy (kernel kind PYTHON, the callable passed as `params`)
with identical arithmetic, since the book (backtest/ledger.py), the venue's fill rules
(market/fills.py), the risk rules (risk/rules.py) and the kernels are the same compiled functions
in both cases. Timing, sizing and costs are documented in backtest/engine.py.

Three ways to trade, chosen by the config: sign targets filled whole at the fill bar (`_move_to`,
the default); target weights of NAV (`_rebalance`, CFG_WEIGHTS); and, under a participation cap or
with limit orders (CFG_LIMIT_OFFSET), orders working in the venue's book with partial fills
(`_book_submit`, `_book_match`). Decisions travel to the venue through a ring of `delay` slots
(config[CFG_DELAY] bars from decision to fill). With the venue's square-root impact (CFG_IMPACT)
every market fill, on any of the three ways, pays the impact of its own quantity and all-in entries
are sized for it; without it no bar does any extra work (`_impact_inputs`).

At bar t the policy sees symbol j's closes up to and including t (nothing later) and its
point-in-time observation row at t (`features`, may be empty): `kernels.decide` hands it exactly
those slices; see rl/kernels.py.

Status codes: OK; ACCOUNTING (the identity broke at `error_bar`); BAD_TARGET (the policy returned
NaN at `error_bar`); FULL (the fill or event buffer would overflow: rerun with `capacity` at
least MAX_ORDERS_PER_BAR * bars * symbols, which always suffices). Buffers are sized once rather
than grown, because numba reference-counts arrays reassigned inside a loop on every iteration,
which costs more than the rest of a bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from tradebrain.backtest import ledger
from tradebrain.backtest.ledger import (
    CASH,
    CFG_CASH,
    CFG_CASH_FRACTION,
    CFG_CHECK,
    CFG_DELAY,
    CFG_FIXED_FEE,
    CFG_FRACTIONAL,
    CFG_IMPACT,
    CFG_LIMIT_OFFSET,
    CFG_PARTICIPATION,
    CFG_SHORT,
    CFG_WEIGHTS,
    FEES,
    FILL_FEE,
    FILL_PRICE,
    FILL_QUANTITY,
    FILL_SYMBOL,
    REALISED,
    book_fill,
    entry_size,
    execute,
    fill_price,
    impact_entry_size,
    impact_fill_price,
    ticket_fee,
)
from tradebrain.core.numba_cache import refresh_cache
from tradebrain.market import fills as venue_fills
from tradebrain.market.fills import ORD_LIMIT, ORD_REMAINING, ORD_SYMBOL
from tradebrain.risk import rules, var
from tradebrain.rl import kernels, trade_masks
from tradebrain.rl.kernels import PRECOMPUTED, decide

refresh_cache(
    __file__,
    [kernels.__file__, ledger.__file__, venue_fills.__file__, rules.__file__, var.__file__, trade_masks.__file__],
)

OK, ACCOUNTING, BAD_TARGET, FULL = 0, 1, 2, 3
MAX_ORDERS_PER_BAR = 6  # per symbol: close + open at the open, a risk flatten, close + open at the close,
# and with working orders a flatten at the session's close
IDENTITY_RTOL = 1e-6
EVENT_REVIEW, EVENT_MARK = 0, 1
NO_ORDER = 2  # a ring slot without an order (targets are -1, 0 or 1)
MIN_REBALANCE = 1e-9  # weight targets: smaller trades, as a fraction of NAV, are not sent
# an event row: bar, symbol, rule code, requested, approved, kind


@njit(cache=True)
def bars_left_in_session(session_last: np.ndarray) -> np.ndarray:
    """Bars remaining in the session after each bar (0 on its last bar), from its last-bar flags."""
    n = session_last.shape[0]
    left = np.empty(n, dtype=np.int64)
    remaining = 0
    for t in range(n - 1, -1, -1):
        remaining = 0 if session_last[t] else remaining + 1
        left[t] = remaining
    return left


@njit(cache=True)
def _sign(value: float) -> int:
    return 1 if value > 0.0 else (-1 if value < 0.0 else 0)


@njit(cache=True)
def _intended(
    pending: np.ndarray, live: np.ndarray, slot: int, slots: int, delay: int, desired: np.ndarray, book: bool, j: int
) -> int:
    """The side symbol j's orders are taking it to: the latest decision still on its way to the venue
    (latency), else, with working orders, the side they work towards; NO_ORDER when none is pending.

    Why: a policy decides on its position. With orders in flight the filled position lags its own
    last decision, and a policy that re-decides on the lagging position (a day-trading agent's
    "hold" keeps the position it sees) would cancel its own orders. Live, a trader knows what it has
    sent; so does the policy here: it sees the position its orders are taking it to (entry cost
    unknown until filled, bars held -1), and a hold keeps that course."""
    for back in range(1, delay):
        earlier = slot - back if slot - back >= 0 else slot - back + slots
        if live[earlier] and pending[earlier, j] != NO_ORDER:
            return int(pending[earlier, j])
    if book:
        return int(desired[j])
    return NO_ORDER


@njit(cache=True)
def _var_returns(daily_close: np.ndarray, n_days: int, window: int, out: np.ndarray) -> int:
    """Write the simple returns of the last `window` completed sessions into `out`; their count
    (0 until there are at least 2)."""
    first = max(n_days - window - 1, 0)
    count = n_days - first - 1
    if count < 2:
        return 0
    for d in range(count):
        for j in range(daily_close.shape[1]):
            out[d, j] = daily_close[first + d + 1, j] / daily_close[first + d, j] - 1.0
    return count


@njit(cache=True)
def _book_value(position: np.ndarray, prices: np.ndarray) -> tuple[float, float]:
    """(sum of position values, gross exposure) at `prices`."""
    held = 0.0
    gross = 0.0
    for i in range(position.shape[0]):
        held += position[i] * prices[i]
        gross += abs(position[i]) * prices[i]
    return held, gross


@njit(cache=True)
def _impact_inputs(volumes: np.ndarray, sigmas: np.ndarray, t: int, j: int, config: np.ndarray) -> tuple[float, float]:
    """(volume, sigma) of symbol j on bar t, what square-root impact scales with; (0, 0) without
    impact, whose (bars, symbols) arrays may be empty. Read per fill rather than sliced per bar, so
    the loop without impact does no extra work on any bar."""
    if config[CFG_IMPACT] == 0.0:
        return 0.0, 0.0
    return volumes[t, j], sigmas[t, j]


@njit(cache=True)
def _submit(
    account: np.ndarray,
    position: np.ndarray,
    avg_cost: np.ndarray,
    entry_bar: np.ndarray,
    fills: np.ndarray,
    n_fills: int,
    events: np.ndarray,
    n_events: int,
    j: int,
    quantity: float,
    prices: np.ndarray,
    spreads: np.ndarray,
    volumes: np.ndarray,
    sigmas: np.ndarray,
    t: int,
    day: int,
    config: np.ndarray,
    use_gate: bool,
    limits: np.ndarray,
    gate_state: np.ndarray,
    var_buffer: np.ndarray,
    n_returns: int,
) -> tuple[int, int]:
    """Put one order through the risk gate (if any) and fill what it approves at prices[j] (plus
    the half spread spreads[j], the slippage and, with impact, its square-root impact on a bar of
    volumes[t, j] shares and volatility sigmas[t, j]); returns the fill and event counts."""
    if use_gate:
        held, gross = _book_value(position, prices)
        nav = account[CASH] + held
        weights = position * prices / nav if nav > 0.0 else np.zeros(position.shape[0])
        approved, rule = rules.review_quantity(
            gate_state, limits, position[j], quantity, prices[j], nav, gross, day, var_buffer[:n_returns], weights, j
        )
        if rule != rules.NO_RULE:
            events[n_events, 0] = t
            events[n_events, 1] = j
            events[n_events, 2] = rule
            events[n_events, 3] = quantity
            events[n_events, 4] = approved
            events[n_events, 5] = EVENT_REVIEW
            n_events += 1
        # whole shares stay whole: rounding towards zero keeps every limit (risk/gate.py)
        quantity = approved if config[CFG_FRACTIONAL] != 0.0 else float(np.trunc(approved))
    volume, sigma = _impact_inputs(volumes, sigmas, t, j, config)
    n_fills = execute(
        account, position, avg_cost, entry_bar, fills, n_fills, j, quantity, prices[j], spreads[j], volume, sigma, t,
        config,
    )  # fmt: skip
    return n_fills, n_events


@njit(cache=True)
def _move_to(
    account: np.ndarray,
    position: np.ndarray,
    avg_cost: np.ndarray,
    entry_bar: np.ndarray,
    fills: np.ndarray,
    n_fills: int,
    events: np.ndarray,
    n_events: int,
    j: int,
    desired: int,
    prices: np.ndarray,
    spreads: np.ndarray,
    volumes: np.ndarray,
    sigmas: np.ndarray,
    t: int,
    day: int,
    config: np.ndarray,
    use_gate: bool,
    limits: np.ndarray,
    gate_state: np.ndarray,
    var_buffer: np.ndarray,
    n_returns: int,
) -> tuple[int, int]:
    """Close symbol j's position if its sign differs from `desired`, then open an all-in one (sized
    with its own impact when the venue charges impact, see ledger `impact_entry_size`); returns
    the fill and event counts."""
    current = _sign(position[j])
    if current == desired:
        return n_fills, n_events
    if current != 0:
        n_fills, n_events = _submit(
            account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, -position[j], prices,
            spreads, volumes, sigmas, t, day, config, use_gate, limits, gate_state, var_buffer, n_returns,
        )  # fmt: skip
    if desired != 0 and position[j] == 0.0:
        k = position.shape[0]
        budget = account[CASH]
        if k > 1:
            held, _ = _book_value(position, prices)
            budget = min(account[CASH], (account[CASH] + held) / k)
        budget = budget * config[CFG_CASH_FRACTION]
        volume, sigma = _impact_inputs(volumes, sigmas, t, j, config)
        size = impact_entry_size(budget, prices[j], desired, spreads[j], volume, sigma, config)
        if size > 0.0:
            n_fills, n_events = _submit(
                account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, desired * size, prices,
                spreads, volumes, sigmas, t, day, config, use_gate, limits, gate_state, var_buffer, n_returns,
            )  # fmt: skip
    return n_fills, n_events


@njit(cache=True)
def _rebalance(
    account: np.ndarray,
    position: np.ndarray,
    avg_cost: np.ndarray,
    entry_bar: np.ndarray,
    fills: np.ndarray,
    n_fills: int,
    events: np.ndarray,
    n_events: int,
    j: int,
    weight: float,
    prices: np.ndarray,
    spreads: np.ndarray,
    volumes: np.ndarray,
    sigmas: np.ndarray,
    t: int,
    day: int,
    config: np.ndarray,
    use_gate: bool,
    limits: np.ndarray,
    gate_state: np.ndarray,
    var_buffer: np.ndarray,
    n_returns: int,
) -> tuple[int, int]:
    """Move symbol j towards holding `weight` of the NAV (long > 0, short < 0) times the cash
    fraction: a position on the other side is closed first (one order); then the position grows
    by what min(cash, the missing value) buys after costs, or shrinks to the target value. A sign
    target s on one symbol is the weight s; on k symbols, s / k when k is a power of 2 (the same
    arithmetic as `_move_to`). Returns the fill and event counts."""
    desired = _sign(weight)
    current = _sign(position[j])
    if current != 0 and current != desired:
        n_fills, n_events = _submit(
            account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, -position[j], prices,
            spreads, volumes, sigmas, t, day, config, use_gate, limits, gate_state, var_buffer, n_returns,
        )  # fmt: skip
    if desired == 0:
        return n_fills, n_events
    held, _ = _book_value(position, prices)
    price = fill_price(prices[j], desired, spreads[j], config)
    target = abs(weight) * (account[CASH] + held) * config[CFG_CASH_FRACTION]
    have = abs(position[j]) * price
    quantity = 0.0
    if target > have:
        budget = min(account[CASH] * config[CFG_CASH_FRACTION], target - have)
        volume, sigma = _impact_inputs(volumes, sigmas, t, j, config)
        quantity = desired * impact_entry_size(budget, prices[j], desired, spreads[j], volume, sigma, config)
    elif target < have:
        keep = target / price if config[CFG_FRACTIONAL] != 0.0 else float(np.floor(target / price))
        quantity = -desired * (abs(position[j]) - keep)
    # a rebalance worth less than MIN_REBALANCE of the NAV (rounding dust, the last cents of cash) is skipped
    if abs(quantity) * price > MIN_REBALANCE * abs(account[CASH] + held):
        n_fills, n_events = _submit(
            account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, quantity, prices, spreads,
            volumes, sigmas, t, day, config, use_gate, limits, gate_state, var_buffer, n_returns,
        )  # fmt: skip
    return n_fills, n_events


@njit(cache=True)
def _working(orders: np.ndarray, n_orders: int, k: int) -> np.ndarray:
    """The signed quantity still working per symbol (the venue's `working_quantity` of each)."""
    working = np.empty(k)
    for j in range(k):
        working[j] = venue_fills.working_quantity(orders, n_orders, j)
    return working


@njit(cache=True)
def _limit_for(close: float, side: int, offset: float) -> float:
    """The limit price of a `side` order (1 buy, -1 sell) decided at `close`: the close moved the
    `offset` (a fraction) in the trader's favour, close * (1 - offset) for a buy and
    close * (1 + offset) for a sell, so a limit order never pays more than the decision's close
    less the offset (the ORD_LIMIT of market/venue.py `limit_price` for kind 'limit')."""
    return close * (1.0 - offset) if side > 0 else close * (1.0 + offset)


@njit(cache=True, inline="always")
def _wants_order(desired: np.ndarray, position: np.ndarray) -> bool:
    """Whether any symbol's position is not on its desired side (an order to submit)."""
    for j in range(position.shape[0]):  # noqa: SIM110 (numba compiles loops, not any() over generators)
        if desired[j] != _sign(position[j]):
            return True
    return False


@njit(cache=True)
def _book_submit(
    account: np.ndarray,
    position: np.ndarray,
    orders: np.ndarray,
    n_orders: int,
    next_id: int,
    events: np.ndarray,
    n_events: int,
    desired: np.ndarray,
    references: np.ndarray,
    spreads: np.ndarray,
    volumes: np.ndarray,
    sigmas: np.ndarray,
    decision_close: np.ndarray,
    t: int,
    submit_bar: int,
    day: int,
    config: np.ndarray,
    use_gate: bool,
    limits: np.ndarray,
    gate_state: np.ndarray,
    var_buffer: np.ndarray,
    n_returns: int,
) -> tuple[int, int, int]:
    """Submit, for every symbol whose position differs from its desired side and that has nothing
    working, the order that moves it: a close of the whole position, or (when flat) an all-in entry.

    Market orders (config[CFG_LIMIT_OFFSET] NaN): the entry is sized at this bar's fill price, with
    its own impact on a bar of volumes[t, j] shares and volatility sigmas[t, j] when the venue charges
    impact. Limit orders: every order is priced at `decision_close[j]` (the close of the bar that
    decided symbol j's desired side) moved the offset in the trader's favour, a buy at
    close * (1 - offset), a sell at close * (1 + offset) (`_limit_for`), and the entry is sized at
    that limit, the most a limit fill can cost. Each order passes the risk gate counting the
    working orders as held (a working buy uses room under the limits). Returns the order count,
    the next order id and the event count."""
    k = position.shape[0]
    offset = config[CFG_LIMIT_OFFSET]
    priced = not np.isnan(offset)  # limit orders
    working = _working(orders, n_orders, k)
    for j in range(k):
        if desired[j] == _sign(position[j]) or working[j] != 0.0:
            continue
        if position[j] != 0.0:
            quantity = -position[j]
        else:
            budget = account[CASH]
            if k > 1:
                held, _ = _book_value(position, references)
                budget = min(account[CASH], (account[CASH] + held) / k)
            budget = budget * config[CFG_CASH_FRACTION]
            if priced:
                quantity = desired[j] * entry_size(budget, _limit_for(decision_close[j], desired[j], offset), config)
            else:
                volume, sigma = _impact_inputs(volumes, sigmas, t, j, config)
                quantity = desired[j] * impact_entry_size(
                    budget, references[j], desired[j], spreads[j], volume, sigma, config
                )
        if use_gate and quantity != 0.0:
            exposure = position + working
            held, _ = _book_value(position, references)
            _, gross = _book_value(exposure, references)
            nav = account[CASH] + held
            weights = exposure * references / nav if nav > 0.0 else np.zeros(k)
            approved, rule = rules.review_quantity(
                gate_state, limits, exposure[j], quantity, references[j], nav, gross, day, var_buffer[:n_returns],
                weights, j,
            )  # fmt: skip
            if rule != rules.NO_RULE:
                events[n_events, 0] = t
                events[n_events, 1] = j
                events[n_events, 2] = rule
                events[n_events, 3] = quantity
                events[n_events, 4] = approved
                events[n_events, 5] = EVENT_REVIEW
                n_events += 1
            quantity = approved if config[CFG_FRACTIONAL] != 0.0 else float(np.trunc(approved))
        if quantity != 0.0:
            limit = _limit_for(decision_close[j], _sign(quantity), offset) if priced else np.nan
            # active from its submit bar: the loop has already applied the latency (orders are sent on arrival)
            n_orders = venue_fills.add_order(orders, n_orders, j, quantity, limit, submit_bar, 0, next_id)
            working[j] = quantity
            next_id += 1
    return n_orders, next_id, n_events


@njit(cache=True)
def _book_match(
    account: np.ndarray,
    position: np.ndarray,
    avg_cost: np.ndarray,
    entry_bar: np.ndarray,
    orders: np.ndarray,
    n_orders: int,
    fills: np.ndarray,
    n_fills: int,
    t: int,
    bars: np.ndarray,
    closes: np.ndarray,
    half_spread: np.ndarray,
    sigmas: np.ndarray,
    params: np.ndarray,
    references: np.ndarray,
    config: np.ndarray,
) -> tuple[int, int]:
    """Fill what the working orders can on bar t through the venue's `match_orders` and book the
    fills (adding the backtest's fixed fee). Opening buys are first cut to what the cash affords at
    the most they can pay on this bar: a market buy at this bar's fill price with the impact of the
    whole remainder (a partial fill's own impact is smaller), a limit buy at its limit. So a
    remainder that works over later bars never overdraws the account. Returns the order and fill
    counts."""
    cash = account[CASH]
    for i in range(n_orders):
        j = int(orders[i, ORD_SYMBOL])
        remaining = orders[i, ORD_REMAINING]
        if remaining > 0.0 and position[j] >= 0.0:
            limit = orders[i, ORD_LIMIT]
            volume, sigma = bars[4, t, j], sigmas[t, j]
            if np.isnan(limit):
                affordable = impact_entry_size(cash, references[j], 1, half_spread[t, j], volume, sigma, config)
            else:
                affordable = entry_size(cash, limit, config)
            if remaining > affordable:
                orders[i, ORD_REMAINING] = affordable
                remaining = affordable
            if remaining > 0.0:
                price = limit
                if np.isnan(limit):
                    price = impact_fill_price(references[j], remaining, half_spread[t, j], volume, sigma, config)
                cash -= remaining * price + ticket_fee(remaining, price, config)
    kept = 0
    for i in range(n_orders):  # orders cut to nothing are dropped
        if orders[i, ORD_REMAINING] != 0.0:
            if kept != i:
                orders[kept, :] = orders[i, :]
            kept += 1
    first = n_fills
    n_orders, n_fills = venue_fills.match_orders(
        orders, kept, t, bars[0], bars[1], bars[2], closes, bars[3], bars[4], half_spread, sigmas, params, fills,
        n_fills,
    )  # fmt: skip
    for f in range(first, n_fills):
        fee = fills[f, FILL_FEE] + config[CFG_FIXED_FEE]
        fills[f, FILL_FEE] = fee
        book_fill(
            account, position, avg_cost, entry_bar, int(fills[f, FILL_SYMBOL]), fills[f, FILL_QUANTITY],
            fills[f, FILL_PRICE], fee, t,
        )  # fmt: skip
    return n_orders, n_fills


@njit(cache=True)
def simulate(
    references: np.ndarray,
    closes: np.ndarray,
    half_spread: np.ndarray,
    day: np.ndarray,
    session_last: np.ndarray,
    flat_bars: np.ndarray,
    bars_left: np.ndarray,
    features: np.ndarray,
    config: np.ndarray,
    kind: int,
    params: Any,
    table: np.ndarray,
    policy_state: np.ndarray,
    use_gate: bool,
    limits: np.ndarray,
    gate_state: np.ndarray,
    capacity: int,
    bars: np.ndarray,
    sigmas: np.ndarray,
    venue_params: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Run the policy over every bar; returns (equity, cash, positions, fills, risk events,
    status, error bar). See the module docstring and backtest/engine.py for the rules.

    `references` (bars, symbols) are the prices at which delayed market orders fill on each bar
    (the open, VWAP or typical price), `half_spread` (bars, symbols) the venue's half spread on
    each bar as a fraction of the price, and config[CFG_DELAY] the bars from decision to fill.

    With a participation cap (config[CFG_PARTICIPATION] not NaN) or limit orders
    (config[CFG_LIMIT_OFFSET] not NaN) orders work in the venue's book (market/fills.py
    `match_orders`): `bars` (5, bars, symbols) holds open, high, low, VWAP and volume, `sigmas` the
    per-bar volatility, `venue_params` the venue's V_* settings. Each bar the symbols whose position
    differs from their latest target get an order (a close, then, once flat, an all-in entry sized
    at that bar's fill price, or at its limit); at most cap * volume fills per bar, a limit order
    only on a bar that trades through its limit, and the rest keeps working until it fills or a new
    target cancels it. With impact (config[CFG_IMPACT] > 0) every market fill pays the venue's
    square-root impact of its quantity on bars[4] (volume) and `sigmas`, and all-in entries are
    sized for it. Without a cap, limit orders or impact these arrays may be empty (5, 0, symbols),
    (0, symbols) and (0,)."""
    n, k = closes.shape
    initial = config[CFG_CASH]
    account = np.array([initial, 0.0, 0.0])
    position = np.zeros(k)
    avg_cost = np.zeros(k)
    entry_bar = np.full(k, -1, dtype=np.int64)
    equity = np.empty(n)
    cash = np.empty(n)
    positions = np.empty((n, k))
    fills = np.empty((capacity, 5))
    n_fills = 0
    events = np.empty((capacity, 6))
    n_events = 0
    room = MAX_ORDERS_PER_BAR * k
    decisions = np.zeros(k, dtype=np.int64)
    delay = int(config[CFG_DELAY])
    slots = max(delay, 1)
    pending = np.full((slots, k), NO_ORDER, dtype=np.int64)  # ring: slot t % delay holds bar t's decisions
    live = np.zeros(slots, dtype=np.bool_)
    slot = slots - 1  # t % slots, advanced without a division
    book = not np.isnan(config[CFG_PARTICIPATION]) or not np.isnan(config[CFG_LIMIT_OFFSET])
    volumes = bars[4]  # (bars, symbols), read (with `sigmas`) only under a cap or impact
    decision_close = closes[0].copy()  # with limit orders: the close of the bar that set `desired`
    weights = config[CFG_WEIGHTS] != 0.0  # targets are fractions of NAV, not signs
    weight_now = np.zeros(k)  # this bar's target weights
    pending_w = np.zeros((slots, k))  # ring of target weights, beside `pending`
    last_w = np.zeros(k)  # the weight each symbol last moved towards
    desired = np.zeros(k, dtype=np.int64)  # with working orders: the side each symbol is moving to
    orders = np.empty((2 * k + 2, 6))
    n_orders = 0
    next_id = 0
    allow_short = config[CFG_SHORT] != 0.0
    check = config[CFG_CHECK] != 0.0
    day_start = initial
    peak = initial
    use_var = use_gate and not np.isnan(limits[rules.L_VAR])
    window = int(limits[rules.L_WINDOW]) if use_gate else 0
    daily_close = np.empty((int(session_last.sum()) + 1 if use_var else 0, k))
    n_days = 0
    var_buffer = np.zeros((max(window, 2), k))
    n_returns = 0
    for t in range(n):
        if n_fills + room > capacity or n_events + room > capacity:
            return equity, cash, positions, fills[:n_fills], events[:n_events], FULL, t
        slot = slot + 1 if slot + 1 < slots else 0
        if book:
            if delay > 0 and live[slot]:  # the decisions of bar t - delay reach the venue now
                for j in range(k):
                    if pending[slot, j] != NO_ORDER and pending[slot, j] != desired[j]:
                        n_orders = venue_fills.cancel_orders(orders, n_orders, j)
                        desired[j] = pending[slot, j]
                        decision_close[j] = closes[t - delay, j]
                live[slot] = False
            for _ in range(2):  # closes, then the entries of the symbols they left flat
                if n_orders == 0 and not _wants_order(desired, position):
                    break  # most bars: nothing to submit or match (the calls' arguments cost more than the bar)
                n_orders, next_id, n_events = _book_submit(
                    account, position, orders, n_orders, next_id, events, n_events, desired, references[t],
                    half_spread[t], volumes, sigmas, decision_close, t, t - 1, day[t], config, use_gate, limits,
                    gate_state, var_buffer, n_returns,
                )  # fmt: skip
                n_orders, n_fills = _book_match(
                    account, position, avg_cost, entry_bar, orders, n_orders, fills, n_fills, t, bars, closes,
                    half_spread, sigmas, venue_params, references[t], config,
                )  # fmt: skip
        elif delay > 0 and live[slot] and weights:
            for j in range(k):
                w = pending_w[slot, j]
                if w != last_w[j] or _sign(w) != _sign(position[j]):
                    n_fills, n_events = _rebalance(
                        account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, w,
                        references[t], half_spread[t], volumes, sigmas, t, day[t], config, use_gate, limits,
                        gate_state, var_buffer, n_returns,
                    )  # fmt: skip
                    last_w[j] = w
            live[slot] = False
        elif delay > 0 and live[slot]:  # the decisions of bar t - delay reach the venue now
            for j in range(k):
                if pending[slot, j] != NO_ORDER and pending[slot, j] != _sign(position[j]):
                    n_fills, n_events = _move_to(
                        account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j,
                        pending[slot, j], references[t], half_spread[t], volumes, sigmas, t, day[t], config,
                        use_gate, limits, gate_state, var_buffer, n_returns,
                    )  # fmt: skip
            live[slot] = False
        if use_gate:
            held, _ = _book_value(position, closes[t])
            halted, _ = rules.mark_loss_limits(gate_state, limits, account[CASH] + held, peak, day_start, day[t])
            if halted != rules.NO_RULE:
                n_orders = venue_fills.cancel_orders(orders, n_orders, -1)
                for j in range(k):
                    if position[j] != 0.0:
                        events[n_events, 0] = t
                        events[n_events, 1] = j
                        events[n_events, 2] = halted
                        events[n_events, 3] = 0.0
                        events[n_events, 4] = -position[j]
                        events[n_events, 5] = EVENT_MARK
                        n_events += 1
                        volume, sigma = _impact_inputs(volumes, sigmas, t, j, config)
                        n_fills = execute(
                            account, position, avg_cost, entry_bar, fills, n_fills, j, -position[j], closes[t, j],
                            half_spread[t, j], volume, sigma, t, config,
                        )  # fmt: skip
        for j in range(k):
            held_bars = t - entry_bar[j] if entry_bar[j] >= 0 else -1
            if kind == PRECOMPUTED:  # read directly: passing the arrays through decide costs more than the bar
                target = table[t, j]
            else:
                seen, cost = position[j], avg_cost[j]
                if not weights and (delay > 1 or book):
                    intended = _intended(pending, live, slot, slots, delay, desired, book, j)
                    if intended != NO_ORDER and intended != _sign(position[j]):
                        seen, cost, held_bars = float(intended), 0.0, -1  # an order in flight: the policy's own
                target = decide(
                    kind, t, j, closes, features, seen, cost, held_bars, bars_left[t], params, table, policy_state,
                )  # fmt: skip
            if weights and target == target:
                weight_now[j] = target if (target >= 0.0 or allow_short) else 0.0
            if target > 0.0:
                decisions[j] = 1
            elif target < 0.0:
                decisions[j] = -1 if allow_short else 0
            elif target == 0.0:
                decisions[j] = 0
            else:
                return equity, cash, positions, fills[:n_fills], events[:n_events], BAD_TARGET, t
        if flat_bars[t]:
            n_orders = venue_fills.cancel_orders(orders, n_orders, -1)  # working orders expire with the session
            for j in range(k):
                decisions[j] = 0
                desired[j] = 0
                weight_now[j] = 0.0
                last_w[j] = 0.0
                n_fills, n_events = _move_to(
                    account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, 0, closes[t],
                    half_spread[t], volumes, sigmas, t, day[t], config, use_gate, limits, gate_state, var_buffer,
                    n_returns,
                )  # fmt: skip
            live[:] = False  # orders still on their way expire with the session
        elif delay == 0 and book:
            for j in range(k):
                if decisions[j] != desired[j]:
                    n_orders = venue_fills.cancel_orders(orders, n_orders, j)
                    desired[j] = decisions[j]
                    decision_close[j] = closes[t, j]
            for _ in range(2):  # closes, then the entries of the symbols they left flat
                if n_orders == 0 and not _wants_order(desired, position):
                    break  # most bars: nothing to submit or match (the calls' arguments cost more than the bar)
                n_orders, next_id, n_events = _book_submit(
                    account, position, orders, n_orders, next_id, events, n_events, desired, closes[t],
                    half_spread[t], volumes, sigmas, decision_close, t, t, day[t], config, use_gate, limits,
                    gate_state, var_buffer, n_returns,
                )  # fmt: skip
                n_orders, n_fills = _book_match(
                    account, position, avg_cost, entry_bar, orders, n_orders, fills, n_fills, t, bars, closes,
                    half_spread, sigmas, venue_params, closes[t], config,
                )  # fmt: skip
        elif delay == 0 and weights:
            for j in range(k):
                w = weight_now[j]
                if w != last_w[j] or _sign(w) != _sign(position[j]):
                    n_fills, n_events = _rebalance(
                        account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, w, closes[t],
                        half_spread[t], volumes, sigmas, t, day[t], config, use_gate, limits, gate_state,
                        var_buffer, n_returns,
                    )  # fmt: skip
                    last_w[j] = w
        elif delay == 0:
            for j in range(k):
                if decisions[j] != _sign(position[j]):
                    n_fills, n_events = _move_to(
                        account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, decisions[j],
                        closes[t], half_spread[t], volumes, sigmas, t, day[t], config, use_gate, limits,
                        gate_state, var_buffer, n_returns,
                    )  # fmt: skip
        if delay > 0 and t + delay < n and not flat_bars[t]:
            for j in range(k):
                pending[slot, j] = decisions[j]
            if weights:
                for j in range(k):
                    pending_w[slot, j] = weight_now[j]
            live[slot] = True
        held = 0.0
        unrealised = 0.0
        for j in range(k):
            held = held + position[j] * closes[t, j]
            unrealised = unrealised + position[j] * (closes[t, j] - avg_cost[j])
            positions[t, j] = position[j]
        value = account[CASH] + held
        equity[t] = value
        cash[t] = account[CASH]
        if check:
            rhs = initial + account[REALISED] + unrealised - account[FEES]
            if abs(value - rhs) > IDENTITY_RTOL * max(abs(value), abs(rhs), 1.0):
                return equity, cash, positions, fills[:n_fills], events[:n_events], ACCOUNTING, t
        if use_gate:
            peak = max(peak, value)
            if session_last[t]:
                day_start = value
                if use_var:
                    daily_close[n_days] = closes[t]
                    n_days += 1
                    n_returns = _var_returns(daily_close, n_days, window, var_buffer)
    return equity, cash, positions, fills[:n_fills], events[:n_events], OK, -1

"""The event-driven backtest loop, written once.

`simulate` is compiled with numba (once, cached on disk) and, with a policy kernel (see
rl/kernels.py), runs entirely in machine code. The same function's pure-Python original
(`simulate.py_func`) runs any Python policy (kernel kind PYTHON, the callable passed as `params`)
with identical arithmetic, since the book (backtest/ledger.py), the risk rules (risk/rules.py)
and the kernels are the same compiled functions in both cases. Timing, sizing and costs are
documented in backtest/engine.py.

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
    CFG_FRACTIONAL,
    CFG_NEXT_OPEN,
    CFG_SHORT,
    FEES,
    REALISED,
    entry_size,
    execute,
    fill_price,
)
from tradebrain.core.numba_cache import refresh_cache
from tradebrain.risk import rules, var
from tradebrain.rl import kernels, trade_masks
from tradebrain.rl.kernels import PRECOMPUTED, decide

refresh_cache(__file__, [kernels.__file__, ledger.__file__, rules.__file__, var.__file__, trade_masks.__file__])

OK, ACCOUNTING, BAD_TARGET, FULL = 0, 1, 2, 3
MAX_ORDERS_PER_BAR = 5  # per symbol: close + open at the open, a risk flatten, close + open at the close
IDENTITY_RTOL = 1e-6
EVENT_REVIEW, EVENT_MARK = 0, 1
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
    t: int,
    day: int,
    config: np.ndarray,
    use_gate: bool,
    limits: np.ndarray,
    gate_state: np.ndarray,
    var_buffer: np.ndarray,
    n_returns: int,
) -> tuple[int, int]:
    """Put one order through the risk gate (if any) and fill what it approves at prices[j];
    returns the fill and event counts."""
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
    n_fills = execute(account, position, avg_cost, entry_bar, fills, n_fills, j, quantity, prices[j], t, config)
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
    t: int,
    day: int,
    config: np.ndarray,
    use_gate: bool,
    limits: np.ndarray,
    gate_state: np.ndarray,
    var_buffer: np.ndarray,
    n_returns: int,
) -> tuple[int, int]:
    """Close symbol j's position if its sign differs from `desired`, then open an all-in one;
    returns the fill and event counts."""
    current = _sign(position[j])
    if current == desired:
        return n_fills, n_events
    if current != 0:
        n_fills, n_events = _submit(
            account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, -position[j], prices, t,
            day, config, use_gate, limits, gate_state, var_buffer, n_returns,
        )  # fmt: skip
    if desired != 0 and position[j] == 0.0:
        k = position.shape[0]
        budget = account[CASH]
        if k > 1:
            held, _ = _book_value(position, prices)
            budget = min(account[CASH], (account[CASH] + held) / k)
        budget = budget * config[CFG_CASH_FRACTION]
        size = entry_size(budget, fill_price(prices[j], desired, config), config)
        if size > 0.0:
            n_fills, n_events = _submit(
                account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, desired * size, prices,
                t, day, config, use_gate, limits, gate_state, var_buffer, n_returns,
            )  # fmt: skip
    return n_fills, n_events


@njit(cache=True)
def simulate(
    opens: np.ndarray,
    closes: np.ndarray,
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Run the policy over every bar; returns (equity, cash, positions, fills, risk events,
    status, error bar). See the module docstring and backtest/engine.py for the rules."""
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
    pending = np.zeros(k, dtype=np.int64)
    has_pending = False
    next_open = config[CFG_NEXT_OPEN] != 0.0
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
        if has_pending:
            for j in range(k):
                if pending[j] != _sign(position[j]):
                    n_fills, n_events = _move_to(
                        account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, pending[j],
                        opens[t], t, day[t], config, use_gate, limits, gate_state, var_buffer, n_returns,
                    )  # fmt: skip
            has_pending = False
        if use_gate:
            held, _ = _book_value(position, closes[t])
            halted, _ = rules.mark_loss_limits(gate_state, limits, account[CASH] + held, peak, day_start, day[t])
            if halted != rules.NO_RULE:
                for j in range(k):
                    if position[j] != 0.0:
                        events[n_events, 0] = t
                        events[n_events, 1] = j
                        events[n_events, 2] = halted
                        events[n_events, 3] = 0.0
                        events[n_events, 4] = -position[j]
                        events[n_events, 5] = EVENT_MARK
                        n_events += 1
                        n_fills = execute(
                            account, position, avg_cost, entry_bar, fills, n_fills, j, -position[j], closes[t, j], t,
                            config,
                        )  # fmt: skip
        for j in range(k):
            held_bars = t - entry_bar[j] if entry_bar[j] >= 0 else -1
            if kind == PRECOMPUTED:  # read directly: passing the arrays through decide costs more than the bar
                target = table[t, j]
            else:
                target = decide(
                    kind, t, j, closes, features, position[j], avg_cost[j], held_bars, bars_left[t], params, table,
                    policy_state,
                )  # fmt: skip
            if target > 0.0:
                decisions[j] = 1
            elif target < 0.0:
                decisions[j] = -1 if allow_short else 0
            elif target == 0.0:
                decisions[j] = 0
            else:
                return equity, cash, positions, fills[:n_fills], events[:n_events], BAD_TARGET, t
        if flat_bars[t]:
            for j in range(k):
                decisions[j] = 0
                n_fills, n_events = _move_to(
                    account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, 0, closes[t], t,
                    day[t], config, use_gate, limits, gate_state, var_buffer, n_returns,
                )  # fmt: skip
        elif not next_open:
            for j in range(k):
                if decisions[j] != _sign(position[j]):
                    n_fills, n_events = _move_to(
                        account, position, avg_cost, entry_bar, fills, n_fills, events, n_events, j, decisions[j],
                        closes[t], t, day[t], config, use_gate, limits, gate_state, var_buffer, n_returns,
                    )  # fmt: skip
        if next_open and t + 1 < n:
            for j in range(k):
                pending[j] = decisions[j]
            has_pending = True
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

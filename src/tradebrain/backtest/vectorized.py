"""Vectorised fast path for signal policies (one symbol, no risk gate).

Why: a policy whose target per bar does not depend on its own fills (SMA crossover, buy-and-hold,
random) can be evaluated with `targets(closes)` in one numpy call; only the bars where the target
changes need any bookkeeping. The result is EXACTLY the event-driven engine's (same trades, same
equity to the last bit): the same timing rules (next-open or close fills, `flat_at_close`), the
same all-in sizing at fill time (whole shares or fractional), commission, fixed fee and slippage,
and the same `Book` doing the arithmetic of every fill. Equity, cash and positions per bar are
then forward-filled from the per-fill snapshots with numpy, and the accounting identity is
checked on every bar, vectorised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradebrain.agents.baselines.trading import SignalPolicy
from tradebrain.backtest.engine import (
    IDENTITY_RTOL,
    AccountingError,
    BacktestConfig,
    BacktestResult,
    Book,
    Market,
    build_trades,
    daily_breakdown,
    entry_price,
    entry_quantity,
    market_from_bars,
    session_last_bars,
)
from tradebrain.core.errors import InputError


def _slots(desired: np.ndarray, session_last: np.ndarray | None, next_open: bool) -> tuple[np.ndarray, ...]:
    """Execution opportunities in time order: (bar, uses-close flag, desired sign)."""
    n = len(desired)
    if session_last is not None:
        desired = np.where(session_last, 0, desired)
    if not next_open:
        return np.arange(n), np.ones(n, dtype=bool), desired
    bars = np.arange(1, n)
    at_close = np.zeros(n - 1, dtype=bool)
    wanted = desired[:-1]
    if session_last is None:
        return bars, at_close, wanted
    flat_bars = np.flatnonzero(session_last)
    all_bars = np.concatenate([bars, flat_bars])
    all_close = np.concatenate([at_close, np.ones(len(flat_bars), dtype=bool)])
    all_wanted = np.concatenate([wanted, np.zeros(len(flat_bars), dtype=desired.dtype)])
    order = np.lexsort((all_close, all_bars))
    return all_bars[order], all_close[order], all_wanted[order]


def _next_affordable(
    start: int,
    end: int,
    want: int,
    cash: float,
    slot_bar: np.ndarray,
    slot_close: np.ndarray,
    opens: np.ndarray,
    closes: np.ndarray,
    config: BacktestConfig,
) -> int:
    """First slot in [start, end) where `entry_quantity` would be > 0 with `cash` (same float
    arithmetic as `entry_price` and `entry_quantity`), or `end` if none."""
    bars = slot_bar[start:end]
    reference = np.where(slot_close[start:end], closes[bars], opens[bars])
    price = reference * (1.0 + config.slippage) if want > 0 else reference * (1.0 - config.slippage)
    affordable = (cash - config.fixed_fee) / (price * (1.0 + config.commission))
    ok = affordable > 0 if config.fractional else affordable >= 1.0
    hits = np.flatnonzero(ok)
    return start + int(hits[0]) if len(hits) else end


def run_vectorized(
    bars: pd.DataFrame | Market, policy: SignalPolicy, config: BacktestConfig | None = None
) -> BacktestResult:
    """Backtest a signal policy on one symbol from `policy.targets(closes)`; equal to
    `run_backtest(bars, policy, config)` (see the module docstring)."""
    config = config or BacktestConfig()
    market = bars if isinstance(bars, Market) else market_from_bars(bars)
    if len(market.symbols) != 1:
        raise InputError(
            f"the vectorised path backtests one symbol, got {len(market.symbols)}; use run_backtest for several"
        )
    opens, closes = market.open[:, 0], market.close[:, 0]
    n = len(closes)
    targets = np.asarray(policy.targets(closes), dtype=float)
    if targets.shape != (n,):
        raise InputError(f"{policy.name}: targets() returned shape {targets.shape}, expected ({n},)")
    if np.isnan(targets).any():
        t = int(np.flatnonzero(np.isnan(targets))[0])
        raise InputError(f"{policy.name}: target at bar {t} is NaN; return 1 (long), 0 or -1 (short)")
    desired = np.sign(targets).astype(np.int64)
    if not config.allow_short:
        desired = np.maximum(desired, 0)
    session_last = session_last_bars(market.timestamps) if config.flat_at_close else None
    slot_bar, slot_close, slot_want = _slots(desired, session_last, config.fill == "next-open")

    book = Book(1, config)
    changed = np.flatnonzero(np.diff(slot_want, prepend=0) != 0)
    bounds = np.append(changed, len(slot_want))
    snapshots: list[tuple[float, float, float, float, float]] = []  # book state after each fill
    for c in range(len(changed)):
        s, end = int(bounds[c]), int(bounds[c + 1])
        while s < end:
            want = int(slot_want[s])
            bar = int(slot_bar[s])
            reference = float(closes[bar] if slot_close[s] else opens[bar])
            position = book.position[0]
            current = 1 if position > 0 else (-1 if position < 0 else 0)
            if current != want:
                if current != 0:
                    book.execute(0, -position, reference, bar)
                    snapshots.append((book.cash, book.position[0], book.avg_cost[0], book.realised, book.fees))
                if want != 0:
                    size = entry_quantity(book.cash, entry_price(reference, want, config), config)
                    if size > 0:
                        book.execute(0, want * size, reference, bar)
                        snapshots.append((book.cash, book.position[0], book.avg_cost[0], book.realised, book.fees))
            position = book.position[0]
            if (1 if position > 0 else (-1 if position < 0 else 0)) == want:
                break
            # Flat and the entry was unaffordable: cash stays put until an entry succeeds, so find
            # the next slot of this run whose price makes it affordable, in one numpy pass.
            s = _next_affordable(s + 1, end, want, book.cash, slot_bar, slot_close, opens, closes, config)

    fill_bars = np.asarray(book.fill_bar, dtype=np.int64)
    last_fill = np.searchsorted(fill_bars, np.arange(n), side="right") - 1
    initial = float(config.cash)
    snap = np.array(snapshots, dtype=float).reshape(-1, 5)
    snap = np.vstack([[initial, 0.0, 0.0, 0.0, 0.0], snap])
    state = snap[last_fill + 1]
    cash, shares, avg_cost, realised, fees = (state[:, i] for i in range(5))
    held = 0.0 + shares * closes
    equity = cash + held
    if config.check_identity:
        unrealised = 0.0 + shares * (closes - avg_cost)
        rhs = initial + realised + unrealised - fees
        scale = np.maximum(np.maximum(np.abs(equity), np.abs(rhs)), 1.0)
        broken = np.flatnonzero(np.abs(equity - rhs) > IDENTITY_RTOL * scale)
        if len(broken):
            t = int(broken[0])
            raise AccountingError(
                f"bar {t}: cash + positions at market = {equity[t]!r} but initial cash + realised + unrealised "
                f"- fees = {rhs[t]!r}"
            )
    fills, trades = build_trades(book, market.symbols, market.timestamps)
    daily = daily_breakdown(market.timestamps, equity, initial, book, trades)
    return BacktestResult(
        symbols=market.symbols,
        timestamps=market.timestamps,
        equity=equity,
        cash=cash,
        positions=shares.reshape(-1, 1),
        fills=fills,
        trades=trades,
        daily=daily,
        config=config,
        policy_name=policy.name,
    )

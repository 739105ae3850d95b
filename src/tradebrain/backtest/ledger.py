"""The backtest's book: fills change cash, positions, average costs, realised PnL and fees; closed
round trips are rebuilt from the fill record. Compiled, and called by the one backtest loop
(backtest/loop.py) in both its compiled and its pure-Python form, so every engine shares the
arithmetic.

Layouts: `account` = [cash, realised PnL, fees paid]; a fill row = [bar, symbol, quantity, price,
fee]; `config` = the CFG_* slots below (see BacktestConfig for their meaning).

Prices and fees are the simulated venue's own compiled rules (market/fills.py), so the backtest
fills as the envs and the paper broker do: a buy pays reference * (1 + half spread + slippage +
impact), a sell receives reference * (1 - half spread - slippage - impact), the impact being the
venue's square-root impact of the fill's own quantity (`sqrt_impact`; 0 when CFG_IMPACT is 0); a
ticket costs max(fee rate * |quantity| * price + fee per share * |quantity|, minimum fee), plus the
backtest's fixed fee per order. With impact the price depends on the quantity, so all-in entries
are sized by the venue's search (`affordable_with_impact`, see `impact_entry_size`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tradebrain.core.numba_cache import refresh_cache
from tradebrain.market import fills as venue_fills

refresh_cache(__file__, [venue_fills.__file__])

CASH, REALISED, FEES = range(3)
FILL_BAR, FILL_SYMBOL, FILL_QUANTITY, FILL_PRICE, FILL_FEE = range(5)
CFG_CASH, CFG_COMMISSION, CFG_FIXED_FEE, CFG_SLIPPAGE, CFG_FRACTIONAL, CFG_SHORT, CFG_DELAY = range(7)
CFG_CHECK, CFG_CASH_FRACTION, CFG_FEE_PER_SHARE, CFG_MIN_FEE = 7, 8, 9, 10
CFG_PARTICIPATION = 11  # NaN: no cap; else the venue's participation cap and its working orders
CFG_WEIGHTS = 12  # 1: targets are fractions of NAV per symbol; 0: only their sign counts
CFG_IMPACT = 13  # the venue's square-root impact coefficient; 0: no impact (and no extra work per fill)
CFG_LIMIT_OFFSET = 14  # NaN: market orders; else limit orders this fraction of the decision close better
CFG_SIZE = 15
CFG_NEXT_OPEN = CFG_DELAY  # the old name: a delay of 1 bar is the next-open fill (see backtest/loop.py)
TRADE_COLUMNS = (
    "symbol", "quantity", "entry_bar", "exit_bar", "entry_price", "exit_price", "pnl", "fees",
)  # fmt: skip


@njit(cache=True)
def fill_price(reference: float, side: int, half_spread: float, config: np.ndarray) -> float:
    """Fill price on `side` (1 buy, -1 sell) at `reference`: buys pay the half spread and the
    slippage (fractions of the price), sells give them up."""
    return float(venue_fills.market_price(reference, side, half_spread, config[CFG_SLIPPAGE], 0.0))


@njit(cache=True)
def ticket_fee(quantity: float, price: float, config: np.ndarray) -> float:
    """The fee of one fill: the venue's ticket fee (rate * traded value + per share, at least the
    minimum) plus the fixed fee per order."""
    fee = venue_fills.ticket_fee(
        quantity, price, config[CFG_FEE_PER_SHARE], config[CFG_COMMISSION], config[CFG_MIN_FEE]
    )
    return float(fee + config[CFG_FIXED_FEE])


@njit(cache=True)
def entry_size(budget: float, price: float, config: np.ndarray) -> float:
    """Shares an all-in entry buys (or shorts) at `price` (spread and slippage included) with
    `budget` after every fee, so the fill never spends more than the budget: whole shares unless
    fractional; 0 if unaffordable."""
    return float(
        venue_fills.affordable_quantity(
            budget, price, config[CFG_COMMISSION], config[CFG_FEE_PER_SHARE], config[CFG_MIN_FEE],
            config[CFG_FIXED_FEE], config[CFG_FRACTIONAL] != 0.0,
        )
    )  # fmt: skip


@njit(cache=True)
def impact_entry_size(
    budget: float, reference: float, side: int, half_spread: float, volume: float, sigma: float, config: np.ndarray
) -> float:
    """Shares an all-in entry on `side` buys (or shorts) with `budget` at `reference`, every cost
    included: with impact (CFG_IMPACT > 0) the largest size whose own impact-raised fill price and
    fees fit the budget (market/fills.py `affordable_with_impact`: a short bracket-and-bisect
    search, never overspending), `volume` and `sigma` being the fill bar's; without impact exactly
    `entry_size` at the impact-free fill price, with no extra work."""
    coefficient = config[CFG_IMPACT]
    if coefficient == 0.0:
        return entry_size(budget, fill_price(reference, side, half_spread, config), config)
    return float(
        venue_fills.affordable_with_impact(
            budget, reference, side, half_spread, config[CFG_SLIPPAGE], volume, sigma, coefficient,
            config[CFG_COMMISSION], config[CFG_FEE_PER_SHARE], config[CFG_MIN_FEE], config[CFG_FIXED_FEE],
            config[CFG_FRACTIONAL] != 0.0,
        )
    )  # fmt: skip


@njit(cache=True)
def impact_fill_price(
    reference: float, quantity: float, half_spread: float, volume: float, sigma: float, config: np.ndarray
) -> float:
    """The fill price of a market order of signed `quantity` at `reference`: `fill_price` plus the
    venue's square-root impact of that quantity on a bar of `volume` shares and volatility `sigma`
    (computed only when CFG_IMPACT > 0; without impact it is `fill_price`, bit for bit)."""
    side = 1 if quantity > 0 else -1
    coefficient = config[CFG_IMPACT]
    if coefficient == 0.0:
        return fill_price(reference, side, half_spread, config)
    impact = venue_fills.sqrt_impact(quantity, volume, sigma, coefficient)
    return float(venue_fills.market_price(reference, side, half_spread, config[CFG_SLIPPAGE], impact))


@njit(cache=True)
def grow(rows: np.ndarray, used: int) -> np.ndarray:
    """`rows` with room for at least one more row (capacity doubled when full)."""
    if used < rows.shape[0]:
        return rows
    bigger = np.empty((2 * rows.shape[0] + 8, rows.shape[1]))
    bigger[:used] = rows[:used]
    return bigger


@njit(cache=True)
def execute(
    account: np.ndarray,
    position: np.ndarray,
    avg_cost: np.ndarray,
    entry_bar: np.ndarray,
    fills: np.ndarray,
    n_fills: int,
    j: int,
    quantity: float,
    reference: float,
    half_spread: float,
    volume: float,
    sigma: float,
    bar: int,
    config: np.ndarray,
) -> int:
    """Fill `quantity` shares of symbol j at `reference` plus the half spread, the slippage and
    (with CFG_IMPACT) its square-root impact on a bar of `volume` shares and volatility `sigma`,
    paying the ticket's fee; records it in `fills` (which has room) and returns the number of fills."""
    if quantity == 0.0:
        return n_fills
    price = impact_fill_price(reference, quantity, half_spread, volume, sigma, config)
    fee = ticket_fee(quantity, price, config)
    fills[n_fills, FILL_BAR] = bar
    fills[n_fills, FILL_SYMBOL] = j
    fills[n_fills, FILL_QUANTITY] = quantity
    fills[n_fills, FILL_PRICE] = price
    fills[n_fills, FILL_FEE] = fee
    book_fill(account, position, avg_cost, entry_bar, j, quantity, price, fee, bar)
    return n_fills + 1


@njit(cache=True)
def book_fill(
    account: np.ndarray,
    position: np.ndarray,
    avg_cost: np.ndarray,
    entry_bar: np.ndarray,
    j: int,
    quantity: float,
    price: float,
    fee: float,
    bar: int,
) -> None:
    """Book a fill of `quantity` shares of symbol j at `price` paying `fee`: cash, fees, position,
    average cost, realised PnL and the entry bar change; the fill row is the caller's."""
    account[CASH] = account[CASH] - (quantity * price + fee)
    account[FEES] = account[FEES] + fee
    held = position[j]
    new = held + quantity
    if held == 0.0 or (held > 0.0) == (quantity > 0.0):
        avg_cost[j] = (avg_cost[j] * held + price * quantity) / new
        if held == 0.0:
            entry_bar[j] = bar
    else:
        closed = -quantity if abs(quantity) <= abs(held) else held
        account[REALISED] = account[REALISED] + closed * (price - avg_cost[j])
        if new == 0.0:
            avg_cost[j] = 0.0
            entry_bar[j] = -1
        elif (new > 0.0) != (held > 0.0):
            avg_cost[j] = price
            entry_bar[j] = bar
    position[j] = new


@njit(cache=True)
def trade_table(fills: np.ndarray, n_symbols: int) -> np.ndarray:
    """Closed round trips (flat to flat per symbol), one row per trade in TRADE_COLUMNS order.

    A flip splits one fill's quantity and fee between the trade it closes and the one it opens;
    prices are volume-weighted over the entry and the exit fills; pnl is the cash flow net of fees.
    """
    # per symbol: position, entry qty, entry notional, exit qty, exit notional, fees, cash flow, first bar
    state = np.zeros((n_symbols, 8))
    is_open = np.zeros(n_symbols, dtype=np.bool_)
    trades = np.empty((max(fills.shape[0] // 2, 1), len(TRADE_COLUMNS)))
    n_trades = 0
    for f in range(fills.shape[0]):
        j = int(fills[f, FILL_SYMBOL])
        bar = fills[f, FILL_BAR]
        quantity, price, fee = fills[f, FILL_QUANTITY], fills[f, FILL_PRICE], fills[f, FILL_FEE]
        while quantity != 0.0:
            if not is_open[j]:
                state[j, :] = 0.0
                state[j, 7] = bar
                is_open[j] = True
            held = state[j, 0]
            if held == 0.0 or (held > 0.0) == (quantity > 0.0):
                part, share = quantity, 1.0
                state[j, 1] += part
                state[j, 2] += part * price
            else:
                part = -held if abs(quantity) > abs(held) else quantity
                share = part / quantity
                state[j, 3] += part
                state[j, 4] += part * price
            part_fee = fee * share
            state[j, 0] = held + part
            state[j, 5] += part_fee
            state[j, 6] -= part * price
            quantity = quantity - part
            fee = fee - part_fee
            if state[j, 0] == 0.0 or abs(state[j, 0]) < 1e-12 * max(abs(state[j, 1]), 1.0):
                trades = grow(trades, n_trades)
                trades[n_trades, 0] = j
                trades[n_trades, 1] = state[j, 1]
                trades[n_trades, 2] = state[j, 7]
                trades[n_trades, 3] = bar
                trades[n_trades, 4] = state[j, 2] / state[j, 1]
                trades[n_trades, 5] = state[j, 4] / state[j, 3]
                trades[n_trades, 6] = state[j, 6] - state[j, 5]
                trades[n_trades, 7] = state[j, 5]
                n_trades += 1
                is_open[j] = False
    return trades[:n_trades]

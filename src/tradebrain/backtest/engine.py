"""Event-driven backtest engine: drives a signal Policy bar by bar over one or many symbols.

Why event-driven: it is the same loop a live node runs (decide on what is known, then fill), so
it cannot look ahead, it can put every order through the risk gate, and it works for policies
whose decisions depend on their own fills. The vectorised fast path (`backtest/vectorized.py`)
reproduces it exactly for signal policies and is tested against it.

Timing of bar t (timestamps are bar times; bars are used in time order):

1. orders decided at t-1 fill at the open of bar t (`fill="next-open"`, the default, honest);
2. the risk gate (if any) is marked at the close of t; orders it returns (e.g. a kill-switch
   flatten) fill at that close;
3. the policy sees a READ-ONLY slice of the closes ending at t (reading bar t+1 raises
   IndexError) and returns a target: 1 fully long, 0 flat, -1 fully short (only with
   `allow_short`; otherwise treated as flat). Only the sign counts;
4. with `fill="close"` (OPTIMISTIC: the decision uses the close it trades at) the order fills at
   the close of t; with `flat_at_close=True` the last bar of each UTC date closes every position
   at its close and the decision of that bar is flat;
5. equity is marked at the close of t and the accounting identity
   cash + positions at market == initial cash + realised PnL + unrealised PnL - fees
   is checked (relative 1e-6); a break raises AccountingError.

Orders: a target change closes the position (one order) and opens the new one (another order).
The entry is sized at fill time, all-in: the largest whole number of shares (or the exact
fraction with `fractional=True`) that the budget affords after commission and the fixed fee,
where the budget is the cash (with several symbols: min(cash, equity / n_symbols)). Fill price =
reference * (1 + slippage) for buys and * (1 - slippage) for sells; fee = commission * |quantity|
* price + fixed_fee per order. Balances compound: each entry spends what the account has then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from tradebrain.agents.baselines.trading import SignalPolicy
from tradebrain.core.errors import InputError, TradebrainError
from tradebrain.core.types import AccountView, Fill, Order

FillTiming = Literal["next-open", "close"]
IDENTITY_RTOL = 1e-6


class AccountingError(TradebrainError, AssertionError):
    """The accounting identity broke: a bug in the engine, never a property of the data."""


class RiskGateLike(Protocol):
    """The risk gate's interface as the engine uses it (see `tradebrain.risk.gate`)."""

    def review(self, order: Order, account: AccountView, timestamp: pd.Timestamp) -> Any:
        """A decision with `.order` (the approved, possibly resized Order, or None) and `.rule`."""
        ...

    def mark(self, account: AccountView, timestamp: pd.Timestamp) -> list[Order]:
        """Orders the gate itself demands at this bar (e.g. flatten on a kill switch)."""
        ...


@dataclass(frozen=True)
class BacktestConfig:
    """Costs, fill timing and sizing of a backtest (see the module docstring for the rules)."""

    cash: float = 10_000.0
    commission: float = 0.0
    fixed_fee: float = 0.0
    slippage_bps: float = 0.0
    fill: FillTiming = "next-open"
    allow_short: bool = False
    fractional: bool = False
    flat_at_close: bool = False
    check_identity: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cash) and self.cash > 0):
            raise InputError(f"cash must be a positive number, got {self.cash}")
        for name in ("commission", "fixed_fee", "slippage_bps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name} must be >= 0, got {value}")
        if self.commission >= 1:
            raise InputError(f"commission is a fraction of traded value (0.001 = 0.1%), got {self.commission}")
        if self.fill not in ("next-open", "close"):
            raise InputError(f"fill must be 'next-open' or 'close', got {self.fill!r}")

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of the reference price."""
        return self.slippage_bps / 1e4


@dataclass(frozen=True)
class Trade:
    """A round trip from flat to flat in one symbol: quantity > 0 long, < 0 short; prices are
    volume-weighted over the entry and the exit fills; pnl is net of `fees` (all its fills)."""

    symbol: str
    quantity: float
    entry_time: pd.Timestamp
    exit_time: pd.Timestamp
    entry_price: float
    exit_price: float
    pnl: float
    fees: float
    entry_bar: int
    exit_bar: int


@dataclass(frozen=True)
class RiskEvent:
    """An order the risk gate denied or resized, with the rule that fired."""

    timestamp: pd.Timestamp
    requested: Order
    approved: Order | None
    rule: str


@dataclass
class BacktestResult:
    """Everything a run produced: per-bar equity (marked at close), cash and positions, fills,
    closed trades, the daily breakdown and the risk gate's interventions."""

    symbols: list[str]
    timestamps: pd.DatetimeIndex
    equity: np.ndarray
    cash: np.ndarray
    positions: np.ndarray
    fills: list[Fill]
    trades: list[Trade]
    daily: pd.DataFrame
    config: BacktestConfig
    policy_name: str
    risk_events: list[RiskEvent] = field(default_factory=list)

    @property
    def final_equity(self) -> float:
        """Equity at the last close."""
        return float(self.equity[-1])

    def equity_frame(self) -> pd.DataFrame:
        """Equity, cash and positions per bar, indexed by timestamp."""
        frame = pd.DataFrame({"equity": self.equity, "cash": self.cash}, index=self.timestamps)
        for j, symbol in enumerate(self.symbols):
            frame[f"position_{symbol}"] = self.positions[:, j]
        return frame

    def trades_frame(self) -> pd.DataFrame:
        """The closed trades as a table (one row per round trip)."""
        columns = list(Trade.__dataclass_fields__)
        return pd.DataFrame([trade.__dict__ for trade in self.trades], columns=columns)


@dataclass(frozen=True)
class Market:
    """Bars as aligned (bars, symbols) arrays; built by `market_from_bars`."""

    symbols: list[str]
    timestamps: pd.DatetimeIndex
    open: np.ndarray
    close: np.ndarray


def market_from_bars(bars: pd.DataFrame) -> Market:
    """Aligned open/close arrays from a bar table (see data/schema.py); every symbol must have the
    same timestamps, because the engine steps all symbols on one clock."""
    missing = [column for column in ("symbol", "timestamp", "open", "close") if column not in bars.columns]
    if missing:
        raise InputError(f"bars lack columns {missing}; read them with tradebrain.data (read_bars_csv, ...)")
    if bars.empty:
        raise InputError("no bars to backtest")
    symbols = sorted(str(s) for s in pd.unique(bars["symbol"]))
    if len(symbols) == 1:
        frame = bars.sort_values("timestamp", kind="stable")
        timestamps = pd.DatetimeIndex(frame["timestamp"])
        opens = frame["open"].to_numpy(dtype=float).reshape(-1, 1)
        closes = frame["close"].to_numpy(dtype=float).reshape(-1, 1)
    else:
        opens_frame = bars.pivot(index="timestamp", columns="symbol", values="open").sort_index()
        closes_frame = bars.pivot(index="timestamp", columns="symbol", values="close").sort_index()
        if opens_frame.isna().any().any():
            raise InputError("symbols have different timestamps; backtest them on a common calendar (inner join)")
        timestamps = pd.DatetimeIndex(opens_frame.index)
        opens = opens_frame[symbols].to_numpy(dtype=float)
        closes = closes_frame[symbols].to_numpy(dtype=float)
    if timestamps.tz is None:
        raise InputError("timestamps have no time zone; bars must be in the schema (UTC)")
    if not timestamps.is_unique or not timestamps.is_monotonic_increasing:
        raise InputError("timestamps repeat or are not increasing; validate the bars (repair=True)")
    if not (np.isfinite(opens).all() and np.isfinite(closes).all() and (opens > 0).all() and (closes > 0).all()):
        raise InputError("open/close must be finite and > 0; validate the bars with data.schema.validate_bars")
    opens.setflags(write=False)
    closes.setflags(write=False)
    return Market(symbols, timestamps, opens, closes)


def session_last_bars(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """True at the last bar of each UTC date (where `flat_at_close` closes positions)."""
    days = timestamps.tz_convert("UTC").normalize().asi8
    last = np.ones(len(days), dtype=bool)
    last[:-1] = days[1:] != days[:-1]
    return last


def entry_quantity(budget: float, price: float, config: BacktestConfig) -> float:
    """Shares an all-in entry buys (or shorts) at `price` with `budget`, after commission and the
    fixed fee: whole shares by default, the exact fraction with `fractional`; 0 if unaffordable."""
    affordable = (budget - config.fixed_fee) / (price * (1.0 + config.commission))
    if not affordable > 0:
        return 0.0
    return affordable if config.fractional else float(math.floor(affordable))


def entry_price(reference: float, side: int, config: BacktestConfig) -> float:
    """Fill price of an order on `side` (1 buy, -1 sell) at `reference`: buys pay the slippage,
    sells give it up."""
    return reference * (1.0 + config.slippage) if side > 0 else reference * (1.0 - config.slippage)


class Book:
    """Cash, positions, average costs, realised PnL and fees, updated fill by fill; records every
    fill. Shared by both engines so their arithmetic is identical."""

    def __init__(self, n_symbols: int, config: BacktestConfig) -> None:
        self.config = config
        self.cash = float(config.cash)
        self.position = [0.0] * n_symbols
        self.avg_cost = [0.0] * n_symbols
        self.realised = 0.0
        self.fees = 0.0
        self.fill_symbol: list[int] = []
        self.fill_bar: list[int] = []
        self.fill_quantity: list[float] = []
        self.fill_price: list[float] = []
        self.fill_fee: list[float] = []

    def execute(self, j: int, quantity: float, reference: float, bar: int) -> None:
        """Fill `quantity` shares of symbol j at `reference` plus slippage, paying the fee."""
        if quantity == 0:
            return
        config = self.config
        price = entry_price(reference, 1 if quantity > 0 else -1, config)
        fee = config.commission * abs(quantity) * price + config.fixed_fee
        self.cash = self.cash - (quantity * price + fee)
        self.fees = self.fees + fee
        position = self.position[j]
        if position == 0 or (position > 0) == (quantity > 0):
            new = position + quantity
            self.avg_cost[j] = (self.avg_cost[j] * position + price * quantity) / new
        else:
            closed = -quantity if abs(quantity) <= abs(position) else position
            self.realised = self.realised + closed * (price - self.avg_cost[j])
            new = position + quantity
            if new == 0:
                self.avg_cost[j] = 0.0
            elif (new > 0) != (position > 0):
                self.avg_cost[j] = price
        self.position[j] = new
        self.fill_symbol.append(j)
        self.fill_bar.append(bar)
        self.fill_quantity.append(quantity)
        self.fill_price.append(price)
        self.fill_fee.append(fee)


def check_identity(equity: float, initial: float, realised: float, unrealised: float, fees: float, bar: int) -> None:
    """Raise AccountingError unless equity == initial cash + realised + unrealised - fees."""
    rhs = initial + realised + unrealised - fees
    if abs(equity - rhs) > IDENTITY_RTOL * max(abs(equity), abs(rhs), 1.0):
        raise AccountingError(
            f"bar {bar}: cash + positions at market = {equity!r} but initial cash + realised + unrealised - fees "
            f"= {rhs!r}"
        )


def build_trades(book: Book, symbols: list[str], timestamps: pd.DatetimeIndex) -> tuple[list[Fill], list[Trade]]:
    """Fill records and closed round trips (flat to flat per symbol; a flip splits one fill's
    quantity and fee between the trade it closes and the one it opens)."""
    bars = np.asarray(book.fill_bar, dtype=np.int64)
    times = list(timestamps[bars]) if len(bars) else []
    fills = [
        Fill(symbols[j], q, p, f, ts)
        for j, q, p, f, ts in zip(
            book.fill_symbol, book.fill_quantity, book.fill_price, book.fill_fee, times, strict=True
        )
    ]
    trades: list[Trade] = []
    open_trades: dict[int, list[float]] = {}
    # per symbol: position, entry qty, entry notional, exit qty, exit notional, fees, cash flow,
    # index of the first entry fill
    for k, j in enumerate(book.fill_symbol):
        quantity, price, fee, bar = book.fill_quantity[k], book.fill_price[k], book.fill_fee[k], book.fill_bar[k]
        while quantity != 0:
            state = open_trades.get(j)
            if state is None:
                state = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, float(k)]
                open_trades[j] = state
            position = state[0]
            if position == 0 or (position > 0) == (quantity > 0):
                part, share = quantity, 1.0
                state[1] += part
                state[2] += part * price
            else:
                part = -position if abs(quantity) > abs(position) else quantity
                share = part / quantity
                state[3] += part
                state[4] += part * price
            part_fee = fee * share
            state[0] = position + part
            state[5] += part_fee
            state[6] -= part * price
            quantity = quantity - part
            fee = fee - part_fee
            if state[0] == 0 or abs(state[0]) < 1e-12 * max(abs(state[1]), 1.0):
                first = int(state[7])
                trades.append(
                    Trade(
                        symbol=symbols[j],
                        quantity=state[1],
                        entry_time=times[first],
                        exit_time=times[k],
                        entry_price=state[2] / state[1],
                        exit_price=state[4] / state[3],
                        pnl=state[6] - state[5],
                        fees=state[5],
                        entry_bar=book.fill_bar[first],
                        exit_bar=bar,
                    )
                )
                del open_trades[j]
    return fills, trades


def daily_breakdown(
    timestamps: pd.DatetimeIndex, equity: np.ndarray, initial: float, book: Book, trades: list[Trade]
) -> pd.DataFrame:
    """Per UTC date: equity at the start (previous close, or the initial cash) and at the end,
    pnl, fills, closed trades (by exit date) and fees."""
    days = timestamps.tz_convert("UTC").normalize()
    last = session_last_bars(timestamps)
    end_idx = np.flatnonzero(last)
    end = equity[end_idx]
    start = np.concatenate([[initial], end[:-1]])
    index = pd.DatetimeIndex(days[end_idx], name="date")
    fill_days = days[np.asarray(book.fill_bar, dtype=np.int64)] if book.fill_bar else pd.DatetimeIndex([], tz="UTC")
    fees = pd.Series(book.fill_fee, index=fill_days, dtype=float).groupby(level=0).sum()
    fill_count = pd.Series(1, index=fill_days, dtype=np.int64).groupby(level=0).sum()
    exit_days = (
        days[np.asarray([t.exit_bar for t in trades], dtype=np.int64)] if trades else pd.DatetimeIndex([], tz="UTC")
    )
    trade_count = pd.Series(1, index=exit_days, dtype=np.int64).groupby(level=0).sum()
    return pd.DataFrame(
        {
            "start_equity": start,
            "end_equity": end,
            "pnl": end - start,
            "fills": fill_count.reindex(index, fill_value=0).to_numpy(),
            "trades": trade_count.reindex(index, fill_value=0).to_numpy(),
            "fees": fees.reindex(index, fill_value=0.0).to_numpy(),
        },
        index=index,
    )


def _sign(value: float) -> int:
    return 1 if value > 0 else (-1 if value < 0 else 0)


def run_backtest(
    bars: pd.DataFrame | Market,
    policy: SignalPolicy,
    config: BacktestConfig | None = None,
    risk_gate: RiskGateLike | None = None,
) -> BacktestResult:
    """Event-driven backtest of `policy` over `bars` (one or many symbols on one clock).

    The policy is asked once per bar and symbol with a read-only slice of that symbol's closes
    ending at the bar; see the module docstring for timing, sizing, costs and the identity check.
    Every order passes `risk_gate.review` (denials and resizes are kept in `risk_events`), and
    `risk_gate.mark` is called every bar before the policy.
    """
    config = config or BacktestConfig()
    market = bars if isinstance(bars, Market) else market_from_bars(bars)
    opens, closes, timestamps = market.open, market.close, market.timestamps
    n, k = closes.shape
    series = [np.ascontiguousarray(closes[:, j]) for j in range(k)]
    for values in series:
        values.setflags(write=False)
    book = Book(k, config)
    equity = np.empty(n)
    cash = np.empty(n)
    positions = np.empty((n, k))
    session_last = session_last_bars(timestamps) if (config.flat_at_close or risk_gate is not None) else None
    allow_short, next_open, check = config.allow_short, config.fill == "next-open", config.check_identity
    pending: list[int] | None = None
    risk_events: list[RiskEvent] = []
    day_start_equity = peak_equity = float(config.cash)
    position, avg_cost = book.position, book.avg_cost
    symbols = market.symbols

    def account(prices: np.ndarray) -> AccountView:
        return AccountView(
            cash=book.cash,
            positions={symbols[i]: position[i] for i in range(k)},
            prices={symbols[i]: float(prices[i]) for i in range(k)},
            day_start_equity=day_start_equity,
            peak_equity=peak_equity,
        )

    def submit(j: int, quantity: float, prices: np.ndarray, t: int) -> None:
        if risk_gate is not None:
            order = Order(symbols[j], quantity, reason="target")
            stamp = timestamps[t]
            decision = risk_gate.review(order, account(prices), stamp)
            approved = decision.order
            if approved is None or approved.quantity != quantity:
                risk_events.append(RiskEvent(stamp, order, approved, str(decision.rule or "")))
            if approved is None:
                return
            quantity = float(approved.quantity)
        book.execute(j, quantity, float(prices[j]), t)

    def move_to(j: int, desired: int, prices: np.ndarray, t: int) -> None:
        current = _sign(position[j])
        if current == desired:
            return
        if current != 0:
            submit(j, -position[j], prices, t)
        if desired != 0 and position[j] == 0:
            reference = float(prices[j])
            budget = book.cash
            if k > 1:
                held = sum(position[i] * float(prices[i]) for i in range(k))
                budget = min(book.cash, (book.cash + held) / k)
            size = entry_quantity(budget, entry_price(reference, desired, config), config)
            if size > 0:
                submit(j, desired * size, prices, t)

    close_rows = closes.tolist()  # Python floats: scalar arithmetic on them is several times faster
    flat_bars = session_last if config.flat_at_close else None
    initial = float(config.cash)
    for t in range(n):
        if pending is not None:
            row_open = opens[t]
            for j in range(k):
                if pending[j] != _sign(position[j]):
                    move_to(j, pending[j], row_open, t)
            pending = None
        if risk_gate is not None:
            for order in risk_gate.mark(account(closes[t]), timestamps[t]):
                i = symbols.index(order.symbol)
                book.execute(i, float(order.quantity), float(closes[t, i]), t)
        decisions = [0] * k
        for j in range(k):
            target = policy.target(series[j][: t + 1])
            if target > 0:
                decisions[j] = 1
            elif target < 0:
                decisions[j] = -1 if allow_short else 0
            elif target != 0:
                raise InputError(f"{policy.name}: target at bar {t} is {target!r}; return 1 (long), 0 or -1 (short)")
        if flat_bars is not None and flat_bars[t]:
            decisions = [0] * k
            for j in range(k):
                move_to(j, 0, closes[t], t)
        elif not next_open:
            for j in range(k):
                if decisions[j] != _sign(position[j]):
                    move_to(j, decisions[j], closes[t], t)
        if next_open and t + 1 < n:
            pending = decisions
        row = close_rows[t]
        held = 0.0
        unrealised = 0.0
        for j in range(k):
            held = held + position[j] * row[j]
            unrealised = unrealised + position[j] * (row[j] - avg_cost[j])
        positions[t] = position
        value = book.cash + held
        equity[t] = value
        cash[t] = book.cash
        if check:
            rhs = initial + book.realised + unrealised - book.fees
            if abs(value - rhs) > IDENTITY_RTOL * max(abs(value), abs(rhs), 1.0):
                check_identity(value, initial, book.realised, unrealised, book.fees, t)
        if risk_gate is not None:
            peak_equity = max(peak_equity, value)
            if session_last is not None and session_last[t]:
                day_start_equity = value
    fills, trades = build_trades(book, symbols, timestamps)
    daily = daily_breakdown(timestamps, equity, config.cash, book, trades)
    return BacktestResult(
        symbols=symbols,
        timestamps=timestamps,
        equity=equity,
        cash=cash,
        positions=positions,
        fills=fills,
        trades=trades,
        daily=daily,
        config=config,
        policy_name=policy.name,
        risk_events=risk_events,
    )

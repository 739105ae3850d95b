"""Event-driven backtest engine: drives a Policy bar by bar over one or many symbols.

Why event-driven: it is the same loop a live node runs (decide on what is known, then fill), so
it cannot look ahead, it can put every order through the risk gate, and it works for policies
whose decisions depend on their own fills. The vectorised fast path (`backtest/vectorized.py`)
reproduces it exactly for signal policies and is tested against it.

One loop, two speeds: the loop (backtest/loop.py) is compiled; a policy with a compiled kernel
(`policy.kernel(n_bars, n_symbols)`, see rl/kernels.py: SMA crossover, buy-and-hold, random,
MLP policies exported from stable-baselines3) runs inside it in machine code, any other policy
runs through the same loop's pure-Python form. Both share the book and the risk rules, so their
numbers are identical (tested).

What a policy sees at bar t: a READ-ONLY slice of its symbol's closes ending at t, and, when the
caller passes `features` (bars, symbols, n) of point-in-time observation rows (e.g. the data
layer's features, the same rows the envs observe), row t. A policy answers through `target(history)`
(signal policies) or `decide(t, j, history, features, position, avg_cost, bars_held, bars_left)`
(policies that observe their own position, like the day-trading agent with its action masks).

Timing of bar t (timestamps are bar times; bars are used in time order). Fills go through the
simulated venue (market/venue.py, market/fills.py); a decision at the close of bar s with a latency
of L bars reaches the venue at bar s + L, and a market order fills
- with the next-bar timings (`fill="next-open"`, the default, or a venue's next_open, next_vwap,
  next_typical) at bar s + 1 + L, at its open (VWAP, typical price);
- with close timing at the close of s when L = 0 (OPTIMISTIC: the decision saw that price; labelled
  "optimistic: same-bar close"), else at the open of s + L: one bar of latency with close timing is
  exactly a next-open fill.
Orders still on their way when `flat_at_close` closes a session expire with it.

1. orders decided at t - delay (delay = the bars above, >= 1) fill at bar t's reference price;
2. the risk gate (if any) is marked at the close of t; orders it returns (e.g. a kill-switch
   flatten) fill at that close;
3. the policy sees the data up to t (reading bar t+1 raises IndexError) and returns a target:
   1 fully long, 0 flat, -1 fully short (only with `allow_short`; otherwise treated as flat).
   Only the sign counts, unless `targets="weight"` (then it is a fraction of NAV, see BacktestConfig);
4. with close timing and no latency the order fills at the close of t; with `flat_at_close=True`
   the last bar of each UTC date closes every position at its close and the decision of that bar
   is flat;
5. equity is marked at the close of t and the accounting identity
   cash + positions at market == initial cash + realised PnL + unrealised PnL - fees
   is checked (relative 1e-6); a break raises AccountingError.

Orders: a target change closes the position (one order) and opens the new one (another order).
The entry is sized at fill time, all-in: the largest whole number of shares (or the exact
fraction with `fractional=True`) that the budget affords after commission and the fixed fee,
where the budget is `cash_fraction` times the cash (with several symbols: of min(cash, equity /
n_symbols)). Every order passes the risk gate when one is given (its VaR rule uses close-to-close
returns of the completed UTC sessions). Fill price = reference * (1 + half spread + slippage) for
buys and * (1 - half spread - slippage) for sells, the half spread being the venue's estimate for
the fill bar (none, fixed, from the high-low range, or quoted); fee = max(fee rate * |quantity| *
price + fee per share * |quantity|, minimum fee) + fixed_fee per order. With the venue's
square-root impact the cost fraction also holds coefficient * sigma * sqrt(|quantity| / bar volume),
sigma the volatility of log returns over the venue's `volatility_window` bars before the fill bar
(market/venue.py `bar_volatility`, known before the bar); the fill price then depends on the
quantity, and the all-in entry is the largest size whose own price and fees fit the budget (a short
bracket-and-bisect search, market/fills.py `affordable_with_impact`). The entry size accounts for
all of these, so cash never goes negative. Balances compound: each entry spends what the account
has then.

Limit orders (`orders="limit"`, see BacktestConfig) work in the venue's book like the orders of a
participation cap: priced at the deciding bar's close moved `limit_offset_bps` in the trader's
favour, filled at their limit or better on a bar that trades through it, cancelled by the next
differing decision, and expired with the session under `flat_at_close`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from tradebrain.backtest import ledger, loop
from tradebrain.core.errors import InputError, TradebrainError
from tradebrain.core.types import Fill, Order
from tradebrain.market.fills import market_delay
from tradebrain.market.venue import OPTIMISTIC_LABEL, TIMING_CODES, VenueConfig, bar_volatility, fill_inputs
from tradebrain.risk import rules
from tradebrain.risk.gate import RiskEvent as GateEvent
from tradebrain.risk.gate import RiskGate, review_reason
from tradebrain.risk.limits import RiskLimits
from tradebrain.rl import kernels
from tradebrain.rl.kernels import PolicyKernel

FillTiming = Literal["next-open", "close"]
TargetKind = Literal["sign", "weight"]
OrderKind = Literal["market", "limit"]
BPS = 1e4
LEGACY_FILLS: dict[str, Literal["next_open", "close"]] = {"next-open": "next_open", "close": "close"}
NANOS_PER_DAY = rules.NANOS_PER_DAY
_NO_LIMITS = rules.limits_vector(RiskLimits())  # every limit off


class AccountingError(TradebrainError, AssertionError):
    """The accounting identity broke: a bug in the engine, never a property of the data."""


@dataclass(frozen=True)
class BacktestConfig:
    """Costs, fill timing and sizing of a backtest (see the module docstring for the rules).

    `targets="sign"` (default): only a target's sign counts (all-in long, flat, all-in short);
    `targets="weight"`: a target is the fraction of NAV to hold in the symbol (long > 0, short < 0,
    times `cash_fraction`); a change of target rebalances (see backtest/loop.py `_rebalance`),
    buying no more than the cash affords after costs. Sign targets are the special case of weights
    +-1 on one symbol (+-1/k on k symbols sharing the cash).

    The venue (market/venue.py) sets fill timing, spread, slippage, latency and fees. Without
    `venue`, the older fields say it: `fill` ("next-open" or "close"), `commission` (the fee
    rate), `slippage_bps`, no spread and no latency, so existing callers keep their numbers.
    With `venue`, those fields are aliases of the venue's `fill`, `fee_rate` and `slippage_bps`:
    one of the two may be set, not both differently. `fixed_fee` ($ per order) is added to the
    venue's fees either way. The venue's square-root impact (`impact="sqrt"`) is charged on every
    market fill, and all-in entries are sized for it (market/fills.py `affordable_with_impact`);
    it needs a volume column.

    `orders="market"` (default): every entry and exit is a market order. `orders="limit"`: every
    entry and exit the loop sends is a limit order priced at the deciding bar's close moved
    `limit_offset_bps` in the trader's favour (a buy at close * (1 - offset), a sell at
    close * (1 + offset)); it works in the venue's book, filling only on a bar that trades through
    its limit, at the open when the open is already through, else at the limit (never worse,
    market/fills.py `limit_fill`, no spread, slippage or impact on top), until it fills or the next
    differing decision cancels it. Under `flat_at_close` working orders expire with the session,
    whose forced exit at its last bar stays a market order at the close. Limit orders need high
    and low columns; weight targets with limit orders are refused.
    """

    cash: float = 10_000.0
    commission: float = 0.0
    fixed_fee: float = 0.0
    slippage_bps: float = 0.0
    fill: FillTiming = "next-open"
    allow_short: bool = False
    fractional: bool = False
    flat_at_close: bool = False
    check_identity: bool = True
    cash_fraction: float = 1.0
    venue: VenueConfig | None = None
    targets: TargetKind = "sign"
    orders: OrderKind = "market"
    limit_offset_bps: float | None = None

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
        if not (math.isfinite(self.cash_fraction) and 0 < self.cash_fraction <= 1):
            raise InputError(f"cash_fraction must lie in (0, 1], got {self.cash_fraction}")
        if self.targets not in ("sign", "weight"):
            raise InputError(f"targets must be 'sign' or 'weight', got {self.targets!r}")
        if self.targets == "weight" and self.venue is not None and self.venue.participation is not None:
            raise InputError("weight targets with a participation cap are not modelled yet; use targets='sign'")
        self._check_orders()
        if self.venue is not None:
            clashes = [
                f"{name}={getattr(self, name)!r} and venue.{alias}={getattr(self.venue, alias)!r}"
                for name, alias in (("commission", "fee_rate"), ("slippage_bps", "slippage_bps"))
                if getattr(self, name) and getattr(self.venue, alias)
            ]
            if self.fill == "close" and "fill" in self.venue.model_fields_set and self.venue.fill != "close":
                clashes.append(f"fill='close' and venue.fill={self.venue.fill!r}")
            if clashes:
                raise InputError(f"{'; '.join(clashes)} both given; set each once (on the venue)")

    def _check_orders(self) -> None:
        """Refuse an order style that cannot be priced, naming the field: an unknown `orders`, a
        limit order without `limit_offset_bps`, an offset that is negative, not finite or 100% or
        more (a buy limit at or below 0), an offset given with market orders, and limit orders with
        weight targets (not modelled)."""
        if self.orders not in ("market", "limit"):
            raise InputError(f"orders must be 'market' or 'limit', got {self.orders!r}")
        offset = self.limit_offset_bps
        if self.orders == "market":
            if offset is not None:
                raise InputError(
                    f"limit_offset_bps={offset!r} prices limit orders, but orders='market'; "
                    "set orders='limit' or leave limit_offset_bps unset"
                )
            return
        if offset is None:
            raise InputError(
                "orders='limit' needs limit_offset_bps: a limit order needs a price (the deciding bar's close moved "
                "limit_offset_bps in the trader's favour); e.g. limit_offset_bps=5, or 0 for a limit at the close"
            )
        if not (isinstance(offset, int | float) and math.isfinite(offset) and 0 <= offset < BPS):
            raise InputError(
                f"limit_offset_bps must be a finite number of basis points in [0, {BPS:g}), got {offset!r}; "
                "it moves each limit price in the trader's favour (5 = 0.05%)"
            )
        if self.targets == "weight":
            raise InputError(
                "weight targets with limit orders are not modelled yet; use targets='sign' or orders='market'"
            )

    @property
    def venue_config(self) -> VenueConfig:
        """The venue this backtest fills through: `venue` (with the older fields' aliases applied),
        or the one the older fields describe."""
        if self.venue is not None:
            update: dict[str, Any] = {}
            if self.commission:
                update["fee_rate"] = self.commission
            if self.slippage_bps:
                update["slippage_bps"] = self.slippage_bps
            if self.fill == "close":
                update["fill"] = "close"
            return self.venue.model_copy(update=update) if update else self.venue
        return VenueConfig.model_construct(  # the fields are checked above (commission may exceed the venue's cap)
            fill=LEGACY_FILLS[self.fill], spread="none", slippage_bps=self.slippage_bps, fee_rate=self.commission
        )

    @property
    def optimistic(self) -> bool:
        """True when orders fill at the close the decision saw (same-bar close without latency)."""
        venue = self.venue_config
        return venue.optimistic and venue.latency_bars == 0 and venue.latency_ms == 0

    @property
    def label(self) -> str:
        """How this backtest fills, for titles and tables ("optimistic: same-bar close" when it is)."""
        venue = self.venue_config
        text = venue.label()
        if venue.optimistic and not self.optimistic:  # close timing delayed by latency fills at an open
            text = text.replace(OPTIMISTIC_LABEL, "close timing + latency (next open)")
        if self.orders == "limit":
            text += f", limit orders {self.limit_offset_bps:g} bps"
        return text

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of the reference price."""
        return self.venue_config.slippage_bps / 1e4

    def vector(self, delay: int | None = None) -> np.ndarray:
        """The config in the compiled loop's layout (backtest/ledger.py CFG_*); `delay` is the bars
        from decision to fill (default: the venue's without a millisecond latency, see `fill_delay`)."""
        venue = self.venue_config
        if delay is None:
            delay = fill_delay(venue, venue.latency_bars)
        vector = np.zeros(ledger.CFG_SIZE)
        vector[ledger.CFG_CASH] = self.cash
        vector[ledger.CFG_COMMISSION] = venue.fee_rate
        vector[ledger.CFG_FIXED_FEE] = self.fixed_fee
        vector[ledger.CFG_SLIPPAGE] = self.slippage
        vector[ledger.CFG_FEE_PER_SHARE] = venue.fee_per_share
        vector[ledger.CFG_MIN_FEE] = venue.min_fee
        vector[ledger.CFG_PARTICIPATION] = np.nan if venue.participation is None else venue.participation
        vector[ledger.CFG_WEIGHTS] = float(self.targets == "weight")
        vector[ledger.CFG_FRACTIONAL] = float(self.fractional)
        vector[ledger.CFG_SHORT] = float(self.allow_short)
        vector[ledger.CFG_DELAY] = float(delay)
        vector[ledger.CFG_CHECK] = float(self.check_identity)
        vector[ledger.CFG_CASH_FRACTION] = self.cash_fraction
        vector[ledger.CFG_IMPACT] = venue.impact_coefficient if venue.impact == "sqrt" else 0.0
        offset = self.limit_offset_bps
        vector[ledger.CFG_LIMIT_OFFSET] = offset / BPS if self.orders == "limit" and offset is not None else np.nan
        return vector


def fill_delay(venue: VenueConfig, latency: int) -> int:
    """Bars from a decision (at bar t's close) to its fill, given the latency in bars: the venue's
    rule (market/fills.py `market_delay`): t + latency for close timing, t + 1 + latency otherwise."""
    return int(market_delay(TIMING_CODES[venue.fill], latency))


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
    """Everything a run produced: per-bar equity (marked at close), cash and positions, the fill
    record and closed trades (as arrays, with `fills`/`trades` objects built on first use), the
    daily breakdown and the risk gate's interventions."""

    symbols: list[str]
    timestamps: pd.DatetimeIndex
    equity: np.ndarray
    cash: np.ndarray
    positions: np.ndarray
    fill_table: np.ndarray
    trade_table: np.ndarray
    daily: pd.DataFrame
    config: BacktestConfig
    policy_name: str
    risk_table: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))

    @cached_property
    def risk_events(self) -> list[RiskEvent]:
        """The orders the risk gate denied or resized (its flattens are in the gate's log)."""
        table = self.risk_table[self.risk_table[:, 5] == loop.EVENT_REVIEW]
        events = []
        for timestamp, (j, rule, requested, approved) in zip(
            self.timestamps[table[:, 0].astype(np.int64)], table[:, 1:5], strict=True
        ):
            symbol = self.symbols[int(j)]
            order = Order(symbol, float(requested), reason="target")
            approved_order = Order(symbol, float(approved), "target") if approved else None
            events.append(RiskEvent(timestamp, order, approved_order, rules.RULE_NAMES[int(rule)]))
        return events

    @property
    def label(self) -> str:
        """How the run filled ("optimistic: same-bar close" for close fills), for titles."""
        return self.config.label

    @property
    def final_equity(self) -> float:
        """Equity at the last close."""
        return float(self.equity[-1])

    @property
    def n_trades(self) -> int:
        """Closed round trips."""
        return int(self.trade_table.shape[0])

    @cached_property
    def fills(self) -> list[Fill]:
        """Every fill, in time order."""
        table = self.fill_table
        bars = table[:, ledger.FILL_BAR].astype(np.int64)
        times = self.timestamps[bars]
        return [
            Fill(self.symbols[int(j)], float(q), float(p), float(f), ts)
            for j, q, p, f, ts in zip(
                table[:, ledger.FILL_SYMBOL], table[:, ledger.FILL_QUANTITY], table[:, ledger.FILL_PRICE],
                table[:, ledger.FILL_FEE], times, strict=True,
            )
        ]  # fmt: skip

    @cached_property
    def trades(self) -> list[Trade]:
        """The closed round trips, in the order they closed."""
        frame = self.trades_frame()
        return [Trade(**row) for row in frame.to_dict("records")]

    def equity_frame(self) -> pd.DataFrame:
        """Equity, cash and positions per bar, indexed by timestamp."""
        frame = pd.DataFrame({"equity": self.equity, "cash": self.cash}, index=self.timestamps)
        for j, symbol in enumerate(self.symbols):
            frame[f"position_{symbol}"] = self.positions[:, j]
        return frame

    def trades_frame(self) -> pd.DataFrame:
        """The closed trades as a table (one row per round trip)."""
        columns = dict(zip(ledger.TRADE_COLUMNS, self.trade_table.T, strict=True))
        entry_bar, exit_bar = columns["entry_bar"].astype(np.int64), columns["exit_bar"].astype(np.int64)
        columns |= {
            "symbol": [self.symbols[int(j)] for j in columns["symbol"]],
            "entry_time": self.timestamps[entry_bar],
            "exit_time": self.timestamps[exit_bar],
            "entry_bar": entry_bar,
            "exit_bar": exit_bar,
        }
        return pd.DataFrame(columns)[list(Trade.__dataclass_fields__)]


@dataclass(frozen=True)
class Market:
    """Bars as aligned (bars, symbols) arrays; built by `market_from_bars`. High and low (for the
    range-based spread and the typical price) and VWAP (NaN where unknown) are None when the bars
    lack them."""

    symbols: list[str]
    timestamps: pd.DatetimeIndex
    open: np.ndarray
    close: np.ndarray
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    vwap: np.ndarray | None = None
    volume: np.ndarray | None = None
    bid: np.ndarray | None = None
    ask: np.ndarray | None = None

    @cached_property
    def day(self) -> np.ndarray:
        """UTC day number (days since 1970-01-01) of every bar."""
        days: np.ndarray = self.timestamps.as_unit("ns").asi8 // NANOS_PER_DAY
        return days

    @cached_property
    def session_last(self) -> np.ndarray:
        """True at the last bar of each UTC date (the default sessions of `flat_at_close`)."""
        last = np.ones(len(self.day), dtype=bool)
        last[:-1] = self.day[1:] != self.day[:-1]
        return last


def market_from_bars(bars: pd.DataFrame) -> Market:
    """Aligned open/close arrays from a bar table (see data/schema.py); every symbol must have the
    same timestamps, because the engine steps all symbols on one clock."""
    missing = [column for column in ("symbol", "timestamp", "open", "close") if column not in bars.columns]
    if missing:
        raise InputError(f"bars lack columns {missing}; read them with tradebrain.data (read_bars_csv, ...)")
    if bars.empty:
        raise InputError("no bars to backtest")
    first = bars["symbol"].iloc[0]
    single = bool((bars["symbol"] == first).all())
    symbols = [str(first)] if single else sorted(str(s) for s in pd.unique(bars["symbol"]))
    extra = [column for column in ("high", "low", "vwap", "volume", "bid", "ask") if column in bars.columns]
    columns: dict[str, np.ndarray] = {}
    if single:
        in_order = bars["timestamp"].is_monotonic_increasing
        frame = bars if in_order else bars.sort_values("timestamp", kind="stable")
        timestamps = pd.DatetimeIndex(frame["timestamp"])
        for column in ("open", "close", *extra):
            columns[column] = frame[column].to_numpy(dtype=float).reshape(-1, 1)
    else:
        opens_frame = bars.pivot(index="timestamp", columns="symbol", values="open").sort_index()
        if opens_frame.isna().any().any():
            raise InputError("symbols have different timestamps; backtest them on a common calendar (inner join)")
        timestamps = pd.DatetimeIndex(opens_frame.index)
        columns["open"] = opens_frame[symbols].to_numpy(dtype=float)
        for column in ("close", *extra):
            pivot = bars.pivot(index="timestamp", columns="symbol", values=column).sort_index()
            columns[column] = pivot[symbols].to_numpy(dtype=float)
    opens, closes = columns["open"], columns["close"]
    if timestamps.tz is None:
        raise InputError("timestamps have no time zone; bars must be in the schema (UTC)")
    if not bool(np.all(np.diff(timestamps.asi8) > 0)):
        raise InputError("timestamps repeat or are not increasing; validate the bars (repair=True)")
    if not (np.isfinite(opens).all() and np.isfinite(closes).all() and (opens > 0).all() and (closes > 0).all()):
        raise InputError("open/close must be finite and > 0; validate the bars with data.schema.validate_bars")
    # high and low are checked by the venue when a spread or fill uses them (market/venue.py)
    for array in columns.values():
        array.setflags(write=False)
    return Market(
        symbols, timestamps, opens, closes, columns.get("high"), columns.get("low"), columns.get("vwap"),
        columns.get("volume"), columns.get("bid"), columns.get("ask"),
    )  # fmt: skip


def daily_breakdown(
    market: Market, equity: np.ndarray, initial: float, fill_table: np.ndarray, trade_table: np.ndarray
) -> pd.DataFrame:
    """Per UTC date: equity at the start (previous close, or the initial cash) and at the end,
    pnl, fills, closed trades (by exit date) and fees."""
    day = market.day
    end_idx = np.flatnonzero(market.session_last)
    end = equity[end_idx]
    start = np.concatenate([[initial], end[:-1]])
    days = day[end_idx]
    fill_day = np.searchsorted(days, day[fill_table[:, ledger.FILL_BAR].astype(np.int64)])
    exit_bar = trade_table[:, ledger.TRADE_COLUMNS.index("exit_bar")].astype(np.int64)
    exit_day = np.searchsorted(days, day[exit_bar])
    index = pd.DatetimeIndex(pd.to_datetime(days * NANOS_PER_DAY, utc=True), name="date")
    return pd.DataFrame(
        {
            "start_equity": start,
            "end_equity": end,
            "pnl": end - start,
            "fills": np.bincount(fill_day, minlength=len(days)),
            "trades": np.bincount(exit_day, minlength=len(days)),
            "fees": np.bincount(fill_day, weights=fill_table[:, ledger.FILL_FEE], minlength=len(days)),
        },
        index=index,
    )


def _python_decision(policy: Any) -> Any:
    """The policy's Python decision for the loop's pure-Python form, from its `decide` or `target`."""
    if callable(getattr(policy, "decide", None)):
        return policy.decide
    if not callable(getattr(policy, "target", None)):
        raise InputError(f"{getattr(policy, 'name', policy)!r} has neither target(history) nor decide(...)")
    target = policy.target

    def decide(t: int, j: int, history: np.ndarray, *_: Any) -> float:
        return float(target(history))

    return decide


def run_backtest(
    bars: pd.DataFrame | Market,
    policy: Any,
    config: BacktestConfig | None = None,
    risk_gate: RiskGate | None = None,
    features: np.ndarray | None = None,
    compiled: bool = True,
    session_last: np.ndarray | None = None,
) -> BacktestResult:
    """Event-driven backtest of `policy` over `bars` (one or many symbols on one clock).

    The policy is asked once per bar and symbol, seeing only data up to that bar (see the module
    docstring for timing, sizing, costs and the identity check). `features` (bars, symbols, n)
    are point-in-time observation rows handed to the policy. Every order passes `risk_gate`
    (denials and resizes are kept in `risk_events`, and all interventions in the gate's log).
    With `compiled` (default) a policy's kernel runs in the compiled loop; otherwise, or without
    a kernel, the loop runs in Python. `session_last` flags the last bar of each trading session
    (where `flat_at_close` closes, and what the policy's bars-left count refers to); default: the
    last bar of each UTC date.
    """
    config = config or BacktestConfig()
    market = bars if isinstance(bars, Market) else market_from_bars(bars)
    n, k = market.close.shape
    if features is None:
        features = np.empty((n, k, 0))
    elif features.ndim != 3 or features.shape[:2] != (n, k):
        raise InputError(f"features must have shape ({n}, {k}, n_features), got {features.shape}")
    if session_last is None:
        session_last = market.session_last
    elif session_last.shape != (n,) or session_last.dtype != np.bool_ or not session_last[-1]:
        raise InputError(f"session_last must be a bool array of shape ({n},) flagging each session's last bar")
    flat_bars = session_last if config.flat_at_close else np.zeros(n, dtype=bool)
    kernel: PolicyKernel | None = policy.kernel(n, k) if compiled and hasattr(policy, "kernel") else None
    if kernel is None:
        kernel = PolicyKernel(kernels.PYTHON, _python_decision(policy))
    simulate = loop.simulate if kernel.kind != kernels.PYTHON else loop.simulate.py_func
    limits = risk_gate.limits_vector if risk_gate is not None else _NO_LIMITS
    gate_state = risk_gate.state if risk_gate is not None else rules.new_state()
    references, spreads, delay = _venue_inputs(market, config, session_last)
    book, sigmas, venue_params = _book_inputs(market, config)
    arrays = (
        references, market.close, spreads, market.day, session_last, flat_bars,
        loop.bars_left_in_session(session_last), np.ascontiguousarray(features, dtype=float), config.vector(delay),
        kernel.kind, kernel.params, kernel.table,
    )  # fmt: skip
    bound = loop.MAX_ORDERS_PER_BAR * n * k + 8
    # compiled: start with room for an order per bar and symbol, rerun (from copies of the states)
    # with the bound in the rare case a policy trades more; Python: the bound at once
    capacity = min(n * k + 64, bound) if kernel.kind != kernels.PYTHON else bound
    policy_state, fresh_gate = kernel.state.copy(), gate_state.copy()
    while True:
        equity, cash, positions, fill_table, events, status, bar = simulate(
            *arrays, kernel.state, risk_gate is not None, limits, gate_state, capacity, book, sigmas, venue_params
        )
        if status != loop.FULL:
            break
        kernel.state[:], gate_state[:], capacity = policy_state, fresh_gate, bound
    name = getattr(policy, "name", type(policy).__name__)
    if status == loop.BAD_TARGET:
        raise InputError(f"{name}: target at bar {bar} is NaN; return 1 (long), 0 or -1 (short)")
    if status == loop.ACCOUNTING:
        raise AccountingError(
            f"bar {bar}: cash + positions at market = {equity[bar]!r} differs from initial cash + realised + "
            "unrealised PnL - fees (a bug in the book, not in the data)"
        )
    trade_table = ledger.trade_table(fill_table, k)
    if risk_gate is not None and len(events):
        risk_gate.defer_log(lambda: _gate_events(events, market, risk_gate.limits))
    return BacktestResult(
        symbols=market.symbols,
        timestamps=market.timestamps,
        equity=equity,
        cash=cash,
        positions=positions,
        fill_table=fill_table,
        trade_table=trade_table,
        daily=daily_breakdown(market, equity, config.cash, fill_table, trade_table),
        config=config,
        policy_name=name,
        risk_table=events,
    )


def _venue_inputs(
    market: Market, config: BacktestConfig, session_last: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """The loop's venue inputs: the reference price of delayed fills per bar and symbol, the half
    spread per bar and symbol (market/venue.py), and the delay in bars from decision to fill.

    A bad venue for these bars (a range spread without high/low, a latency as long as the
    session when positions close each session) raises InputError before anything runs."""
    session_bars = None
    if config.flat_at_close:  # orders still on their way expire with the session
        ends = np.flatnonzero(session_last)
        session_bars = int(np.diff(np.concatenate([[-1], ends])).max())
    inputs = fill_inputs(
        config.venue_config, market.open, market.high, market.low, market.close, market.vwap, market.timestamps,
        session_bars, market.bid, market.ask,
    )  # fmt: skip
    return inputs.references, inputs.half_spread, inputs.delay


def _book_inputs(market: Market, config: BacktestConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arrays the venue's working-order book and its impact need: (open, high, low, VWAP,
    volume) per bar and symbol, the per-bar volatility behind square-root impact (market/venue.py
    `bar_volatility` over the venue's `volatility_window`, known before each bar; zeros without
    impact) and the venue's V_* settings. Empty without a participation cap, limit orders and
    impact, so the fast path carries nothing it does not read.

    Refuses, naming the column, bars without volume under a cap or impact (the volume scales both)
    and bars without high and low with limit orders (a limit fills only on a bar trading through it)."""
    n, k = market.close.shape
    venue = config.venue_config
    capped = venue.participation is not None
    impact = venue.impact == "sqrt" and venue.impact_coefficient > 0
    limit = config.orders == "limit"
    if not (capped or impact or limit):
        return np.empty((5, 0, k)), np.empty((0, k)), np.empty(0)
    volume = market.volume
    if capped or impact:
        needs = "a participation cap" if capped else f"square-root impact (impact={venue.impact!r})"
        if volume is None:
            raise InputError(f"{needs} needs a volume column; the bars have none")
        if not (np.isfinite(volume).all() and (volume >= 0).all()):
            raise InputError(f"volume must be finite and >= 0 under {needs}; validate the bars")
    if limit and (market.high is None or market.low is None):
        raise InputError(
            "orders='limit' needs high and low columns (a limit order fills only on a bar trading through its "
            "limit); the bars have none"
        )
    high = market.high if market.high is not None else np.maximum(market.open, market.close)
    low = market.low if market.low is not None else np.minimum(market.open, market.close)
    vwap = market.vwap if market.vwap is not None else np.full((n, k), np.nan)
    volumes = volume if volume is not None else np.full((n, k), np.nan)  # read only under a cap or impact
    bars = np.ascontiguousarray(np.stack([market.open, high, low, vwap, volumes]))
    sigmas = np.zeros((n, k))
    if impact:
        sigmas = np.ascontiguousarray(bar_volatility(market.close, venue.volatility_window), dtype=float)
    params = venue.model_copy(update={"latency_bars": 0, "latency_ms": 0.0}).params(whole_shares=not config.fractional)
    return bars, sigmas, params


def _gate_events(events: np.ndarray, market: Market, limits: RiskLimits) -> list[GateEvent]:
    """The loop's event rows (flattens and review changes) as the gate's log entries."""
    log = []
    for timestamp, (j, rule, requested, approved, kind) in zip(
        market.timestamps[events[:, 0].astype(np.int64)], events[:, 1:], strict=True
    ):
        symbol, name = market.symbols[int(j)], rules.RULE_NAMES[int(rule)]
        if kind == loop.EVENT_MARK:
            log.append(GateEvent(timestamp, symbol, name, 0.0, float(approved), f"risk flatten ({name})"))
        else:
            reason = review_reason(int(rule), limits)
            log.append(GateEvent(timestamp, symbol, name, float(requested), float(approved), reason))
    return log

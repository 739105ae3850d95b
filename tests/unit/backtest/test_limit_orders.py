"""Limit orders in the backtest loop (`orders="limit"`): priced at the deciding bar's close moved the
offset in the trader's favour, filled only on a bar trading through the limit, at the open when it is
already through, else at the limit, never worse; cancelled by the next differing decision, expired
with the session under `flat_at_close` (whose forced exit stays a market order at the close), counted
by the risk gate while working, refused at the boundary when they cannot be priced, and the same in
the compiled and the Python loop."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.backtest.helpers import Schedule, same_run

from tradebrain.backtest import ledger
from tradebrain.backtest.baselines import BuyAndHold, RandomTarget
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.core.errors import InputError
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.market.venue import VenueConfig
from tradebrain.risk import RiskGate, RiskLimits

FREE = VenueConfig(spread="none")  # no spread: prices below are the limits and opens themselves


def ohlc(
    opens: list[float],
    highs: list[float],
    lows: list[float],
    closes: list[float],
    volume: float = 1000.0,
    symbol: str = "X",
    timestamps: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    stamps = (
        timestamps if timestamps is not None else pd.date_range("2024-01-01", periods=len(closes), freq="D", tz="UTC")
    )
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": stamps,
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": volume,
        }
    )


def limit_config(offset_bps: float = 100.0, **kwargs: object) -> BacktestConfig:
    kwargs.setdefault("venue", FREE)
    return BacktestConfig(cash=1000.0, orders="limit", limit_offset_bps=offset_bps, **kwargs)  # type: ignore[arg-type]


def test_a_limit_buy_never_fills_while_the_low_stays_above_the_limit() -> None:
    # decided at bar 0's close 10 with a 100 bps offset: a buy limit at 9.9; lows of 9.95 never trade below it
    bars = ohlc([10.0] * 5, [10.2] * 5, [9.95] * 5, [10.0] * 5)
    result = run_backtest(bars, Schedule([1] * 5), limit_config())
    assert result.fills == []
    assert not result.positions.any() and result.final_equity == 1000.0


def test_a_limit_buy_fills_at_its_limit_or_at_an_open_already_through_it() -> None:
    limit = 10.0 * (1.0 - 100 / 1e4)  # 9.9
    venue = VenueConfig(spread="fixed", spread_bps=20.0, slippage_bps=5.0)  # a limit fill pays neither
    # bar 1 opens above the limit and trades down through it: filled at the limit
    at_limit = ohlc([10.0, 10.0, 10.0], [10.1, 10.1, 10.1], [9.95, 9.8, 9.8], [10.0, 10.0, 10.0])
    result = run_backtest(at_limit, Schedule([1, 1, 1]), limit_config(venue=venue))
    [fill] = result.fills
    assert result.timestamps.get_loc(fill.timestamp) == 1
    assert fill.price == limit
    assert fill.quantity == 101  # sized at the limit, the most it can cost: floor(1000 / 9.9)
    # bar 1 opens below the limit: filled at that open, better than the limit
    through = ohlc([10.0, 9.85, 9.9], [10.1, 9.9, 10.0], [9.95, 9.8, 9.8], [10.0, 9.9, 9.9])
    [fill] = run_backtest(through, Schedule([1, 1, 1]), limit_config(venue=venue)).fills
    assert fill.price == 9.85 and fill.quantity == 101
    # touching the limit is not enough (a low of exactly 9.9 leaves the order working)
    touch = ohlc([10.0, 10.0, 10.0], [10.1, 10.1, 10.1], [9.95, limit, limit], [10.0, 10.0, 10.0])
    assert run_backtest(touch, Schedule([1, 1, 1]), limit_config(venue=venue)).fills == []


def test_a_limit_exit_sells_above_the_deciding_close() -> None:
    # in at bar 1 (limit 9.9); the flat decision of bar 2 (close 10.5) sells at 10.5 * 1.01 = 10.605,
    # which bar 3 does not reach (high 10.6) and bar 4 trades through from an open of 10.5
    bars = ohlc(
        [10.0, 10.0, 10.4, 10.5, 10.5],
        [10.1, 10.1, 10.6, 10.6, 10.7],
        [9.95, 9.8, 10.3, 10.4, 10.4],
        [10.0, 10.0, 10.5, 10.5, 10.6],
    )
    result = run_backtest(bars, Schedule([1, 1, 0, 0, 0]), limit_config())
    assert [(result.timestamps.get_loc(f.timestamp), f.quantity) for f in result.fills] == [(1, 101), (4, -101)]
    assert result.fills[1].price == 10.5 * (1.0 + 100 / 1e4)
    assert result.final_equity == pytest.approx(1000.0 + 101 * (10.5 * 1.01 - 9.9), rel=1e-12)


def test_an_unfilled_limit_order_is_cancelled_by_the_next_differing_decision() -> None:
    # bars 1 and 2 stay above the 9.9 limit of bar 0's decision; bar 3 trades far below it
    opens = [10.0, 10.5, 10.4, 10.0, 10.0, 10.0]
    highs = [10.1, 10.6, 10.5, 10.1, 10.1, 10.1]
    lows = [9.95, 10.3, 10.3, 9.0, 9.0, 9.0]
    closes = [10.0, 10.5, 10.4, 10.0, 10.0, 10.0]
    bars = ohlc(opens, highs, lows, closes)
    # the flat decision of bar 1 reaches the venue at bar 2 and cancels the working buy: bar 3 fills nothing
    cancelled = run_backtest(bars, Schedule([1, 0, 0, 0, 0, 0]), limit_config())
    assert cancelled.fills == []
    # the same decision repeated keeps the order working at its first price: filled at 9.9 on bar 3
    kept = run_backtest(bars, Schedule([1, 1, 1, 1, 1, 1]), limit_config())
    assert [(kept.timestamps.get_loc(f.timestamp), f.price) for f in kept.fills] == [(3, 10.0 * 0.99)]
    # a new buy decided at bar 2 is priced at bar 2's close: limit 10.296, above bar 3's open of 10
    repriced = run_backtest(bars, Schedule([1, 0, 1, 1, 1, 1]), limit_config())
    assert [(repriced.timestamps.get_loc(f.timestamp), f.price) for f in repriced.fills] == [(3, 10.0)]


def intraday(days: int = 2, per_day: int = 6) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(
        [
            ts
            for day in pd.date_range("2024-01-02", periods=days, freq="D")
            for ts in pd.date_range(day + pd.Timedelta("14:30:00"), periods=per_day, freq="min", tz="UTC")
        ]
    )


def test_limit_orders_expire_with_the_session_under_flat_at_close() -> None:
    # day 1 never trades below the 9.9 limit of bar 0's decision; day 2 opens far below it
    lows = [9.95] * 6 + [9.0] * 6
    bars = ohlc([10.0] * 12, [10.1] * 12, lows, [10.0] * 12, timestamps=intraday())
    schedule = Schedule([1.0] * 5 + [0.0] * 7)  # buy, then flat from the session's last bar on
    expired = run_backtest(bars, schedule, limit_config(flat_at_close=True))
    assert expired.fills == []
    # without flat_at_close the buy keeps working overnight and fills on day 2's first bar
    standing = run_backtest(bars, Schedule([1] * 12), limit_config())
    assert [(standing.timestamps.get_loc(f.timestamp), f.price) for f in standing.fills] == [(6, 10.0 * 0.99)]
    # with it, the day-1 order expires at bar 5; day 2's first decision (bar 6) sends a new one, working from
    # bar 7; the day ends with the forced market exit at the close of bar 11
    session = run_backtest(bars, Schedule([1] * 12), limit_config(flat_at_close=True))
    assert [(session.timestamps.get_loc(f.timestamp), f.price) for f in session.fills] == [(7, 9.9), (11, 10.0)]


def test_the_forced_session_exit_stays_a_market_order_at_the_close() -> None:
    venue = VenueConfig(spread="fixed", spread_bps=20.0)
    lows = [9.95, 9.95, 9.8] + [9.95] * 3 + [9.95] * 6
    closes = [10.0] * 5 + [10.2] + [10.0] * 6
    bars = ohlc([10.0] * 12, [10.3] * 12, lows, closes, timestamps=intraday())
    result = run_backtest(bars, Schedule([1] * 12), limit_config(venue=venue, flat_at_close=True))
    fills = [(result.timestamps.get_loc(f.timestamp), f.quantity, f.price) for f in result.fills]
    assert fills[0] == (2, 101, 10.0 * 0.99)  # the limit buy: no spread paid
    assert fills[1] == (5, -101, 10.2 * (1 - 0.001))  # the forced exit: a market sell at the close, paying the spread
    assert result.positions[5, 0] == 0


def test_the_risk_gate_counts_working_limit_orders() -> None:
    # gross leverage 0.6 of 10,000: A's entry (half the NAV at its 9.9 limit, 505 shares) never fills
    # (lows stay at 10); B's entry is reviewed with A's 505 working shares counted, so it gets what is
    # left under the limit at the reference price of 10: (6000 - 5050) / 10 = 95 shares
    flat = [10.0] * 6
    bars = pd.concat([ohlc(flat, flat, flat, flat, symbol=s) for s in "AB"], ignore_index=True)
    gate = RiskGate(RiskLimits(max_gross_leverage=0.6))
    config = BacktestConfig(cash=10_000.0, venue=FREE, orders="limit", limit_offset_bps=100.0)
    result = run_backtest(bars, BuyAndHold(), config, gate)
    assert result.fills == []
    [event] = result.risk_events
    assert event.requested.symbol == "B" and event.requested.quantity == 505
    assert event.approved is not None and event.approved.quantity == 95
    assert event.rule == "max_gross_leverage"


def run_starts(decisions: np.ndarray) -> np.ndarray:
    """For every bar, the first bar of the run of equal decisions it belongs to."""
    starts = np.zeros(len(decisions), dtype=int)
    for t in range(1, len(decisions)):
        starts[t] = starts[t - 1] if decisions[t] == decisions[t - 1] else t
    return starts


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    offset_bps=st.floats(0.0, 80.0),
    fill=st.sampled_from(["close", "next_open", "next_vwap"]),
    latency=st.integers(0, 2),
    participation=st.sampled_from([None, 0.02, 0.3]),
    fee_rate=st.floats(0.0, 0.003),
    min_fee=st.floats(0.0, 2.0),
    fractional=st.booleans(),
    allow_short=st.booleans(),
    p_flat=st.floats(0.0, 0.5),
)
def test_no_limit_fill_is_worse_than_its_limit_and_the_books_balance(
    seed: int,
    offset_bps: float,
    fill: str,
    latency: int,
    participation: float | None,
    fee_rate: float,
    min_fee: float,
    fractional: bool,
    allow_short: bool,
    p_flat: float,
) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    bars = random_walk_bars(n, "X", "2024-01-02", freq="15min", seed=seed, volatility=4e-3)
    bars["volume"] = rng.uniform(0, 3_000, n).round()
    # targets held for a few bars at a time, so that some orders work over several bars
    targets = np.repeat(rng.choice([-1.0, 1.0], n // 4 + 1), 4)[:n] * (rng.uniform(size=n) >= p_flat)
    venue = VenueConfig(
        fill=fill, spread="fixed", spread_bps=10.0, participation=participation, latency_bars=latency,
        fee_rate=fee_rate, min_fee=min_fee,
    )  # fmt: skip
    config = BacktestConfig(
        cash=20_000.0, venue=venue, fractional=fractional, allow_short=allow_short, orders="limit",
        limit_offset_bps=offset_bps,
    )  # fmt: skip
    result = run_backtest(bars, Schedule(list(targets)), config)  # the loop checks the identity on every bar
    # every fill is a limit fill: its limit is the close of the decision that set the side it works
    # towards, the first of its run of equal decisions, which reaches the venue `delay` bars later
    decisions = np.sign(targets) if allow_short else np.maximum(np.sign(targets), 0.0)
    delay = max(latency if fill == "close" else latency + 1, 1)
    table = result.fill_table
    bar = table[:, ledger.FILL_BAR].astype(int)
    quantity, price = table[:, ledger.FILL_QUANTITY], table[:, ledger.FILL_PRICE]
    closes = bars["close"].to_numpy()
    opens, highs, lows = bars["open"].to_numpy(), bars["high"].to_numpy(), bars["low"].to_numpy()
    assert (bar >= delay).all()
    limit = closes[run_starts(decisions)[bar - delay]] * (1.0 - np.sign(quantity) * offset_bps / 1e4)
    buy, sell = quantity > 0, quantity < 0
    assert (price[buy] <= limit[buy]).all() and (price[sell] >= limit[sell]).all()
    assert (lows[bar[buy]] < limit[buy]).all() and (highs[bar[sell]] > limit[sell]).all()  # traded through
    np.testing.assert_array_equal(price[buy], np.minimum(opens[bar[buy]], limit[buy]))
    np.testing.assert_array_equal(price[sell], np.maximum(opens[bar[sell]], limit[sell]))
    # equity == cash + positions at the close, cash recomputed from the fill record
    cash = config.cash - np.cumsum(np.bincount(bar, quantity * price + table[:, ledger.FILL_FEE], minlength=n))
    np.testing.assert_allclose(result.cash, cash, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.equity, cash + result.positions[:, 0] * closes, rtol=1e-9)
    np.testing.assert_allclose(np.cumsum(np.bincount(bar, quantity, minlength=n)), result.positions[:, 0], atol=1e-9)
    assert result.cash.min() >= -1e-9 * config.cash
    if participation is not None:
        traded = np.bincount(bar, np.abs(quantity), minlength=n)
        assert (traded <= participation * bars["volume"].to_numpy() + 1e-6).all()


def test_compiled_and_python_loops_agree_with_limit_orders() -> None:
    frames = [random_walk_bars(400, s, "2024-01-01", seed=i, freq="h", volatility=4e-3) for i, s in enumerate("AB")]
    bars = pd.concat(frames, ignore_index=True)
    bars["volume"] = np.random.default_rng(0).uniform(0, 2_000, len(bars)).round()
    limits = RiskLimits(max_position_pct=0.45, max_gross_leverage=0.8, max_daily_loss_pct=0.01)
    venues = (
        VenueConfig(latency_bars=1, fee_rate=0.0005),
        VenueConfig(fill="close", participation=0.05, fee_rate=0.0005),
        VenueConfig(participation=0.1, impact="sqrt", impact_coefficient=0.5),
    )
    for venue in venues:
        for flat_at_close in (False, True):
            config = BacktestConfig(
                venue=venue, allow_short=True, orders="limit", limit_offset_bps=3.0, flat_at_close=flat_at_close
            )
            policy = RandomTarget(seed=3, p_long=0.6)
            gates = RiskGate(limits), RiskGate(limits)
            compiled = run_backtest(bars, policy, config, gates[0])
            python = run_backtest(bars, policy, config, gates[1], compiled=False)
            assert len(compiled.fills) > 30
            same_run(compiled, python)
            assert compiled.risk_events == python.risk_events and gates[0].log == gates[1].log


def test_limit_orders_that_cannot_be_priced_are_refused_naming_the_field() -> None:
    with pytest.raises(
        InputError, match=re.escape("orders='limit' needs limit_offset_bps: a limit order needs a price")
    ):
        BacktestConfig(orders="limit")
    for bad in (-1.0, float("nan"), float("inf"), 1e4):
        with pytest.raises(InputError, match="limit_offset_bps must be a finite number"):
            BacktestConfig(orders="limit", limit_offset_bps=bad)
    with pytest.raises(InputError, match="orders must be 'market' or 'limit', got 'stop'"):
        BacktestConfig(orders="stop")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=re.escape("limit_offset_bps=5.0 prices limit orders, but orders='market'")):
        BacktestConfig(limit_offset_bps=5.0)
    with pytest.raises(InputError, match="weight targets with limit orders"):
        BacktestConfig(orders="limit", limit_offset_bps=5.0, targets="weight")
    no_range = ohlc([10.0] * 3, [10.0] * 3, [10.0] * 3, [10.0] * 3).drop(columns=["high", "low"])
    with pytest.raises(InputError, match="needs high and low columns"):
        run_backtest(no_range, BuyAndHold(), limit_config())
    assert limit_config(offset_bps=0.0).label == "next open, limit orders 0 bps"

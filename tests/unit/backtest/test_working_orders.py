"""Working orders and partial fills under the venue's participation cap: a 10% cap on 1,000-share
bars fills 100 shares a bar and carries the rest, an unbinding cap changes nothing, the risk gate
counts working orders, and the accounting identity holds on every bar with partial fills."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.backtest.helpers import Schedule, same_run

from tradebrain.backtest import ledger
from tradebrain.backtest.baselines import BuyAndHold, RandomTarget, SmaCrossover
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.market.venue import VenueConfig
from tradebrain.risk import RiskGate, RiskLimits


def flat_bars(n: int, price: float = 10.0, volume: float = 1000.0, symbol: str = "X") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC"),
            "open": price,
            "high": price,
            "low": price,
            "close": price,
            "volume": volume,
        }
    )


def test_a_10_percent_cap_on_1000_share_bars_fills_100_and_carries_the_rest() -> None:
    venue = VenueConfig(spread="none", participation=0.1)
    result = run_backtest(flat_bars(6), BuyAndHold(), BacktestConfig(cash=2_500.0, venue=venue))
    assert result.positions[:, 0].tolist() == [0, 100, 200, 250, 250, 250]
    assert [f.quantity for f in result.fills] == [100, 100, 50]


def test_a_new_target_cancels_the_working_rest_and_the_exit_is_capped_too() -> None:
    venue = VenueConfig(spread="none", participation=0.1, fee_per_share=0.01, min_fee=1.0)
    schedule = Schedule([1, 1, 0, 0, 0, 0, 0])
    result = run_backtest(flat_bars(7), schedule, BacktestConfig(cash=5_000.0, venue=venue))
    # entry of 499 shares (5000 / 10.01, less the ticket minimum) works 100 a bar from bar 1; the flat
    # target decided at bar 2 cancels the rest at bar 3, whose exit sells 100 a bar
    assert result.positions[:, 0].tolist() == [0, 100, 200, 100, 0, 0, 0]
    assert [f.fee for f in result.fills] == [1.0] * 4
    assert result.final_equity == 5_000.0 - 4.0


def test_an_unbinding_cap_changes_nothing() -> None:
    bars = random_walk_bars(800, "X", "2024-01-02", freq="15min", seed=4)
    bars["volume"] = 1e12
    for fill, latency in (("next_open", 0), ("close", 0), ("close", 2), ("next_typical", 1)):
        common = {"fill": fill, "latency_bars": latency, "spread": "range", "fee_rate": 0.001, "min_fee": 0.5}
        capped = BacktestConfig(venue=VenueConfig(participation=1.0, **common))
        free = BacktestConfig(venue=VenueConfig(**common))
        a = run_backtest(bars, SmaCrossover(5, 12), capped)
        b = run_backtest(bars, SmaCrossover(5, 12), free)
        assert len(a.fills) > 20
        same_run(a, b)


def test_the_risk_gate_counts_working_orders() -> None:
    # Gross leverage 0.6 of 10,000: A's entry (half the NAV, 500 shares) works at 10% of each bar's
    # volume; B's entry is reviewed while A has filled nothing, yet A's working 500 shares count, so
    # B gets the 100 shares left under the limit (500 if working orders were ignored).
    bars = pd.concat([flat_bars(8, symbol="A"), flat_bars(8, symbol="B")], ignore_index=True)
    gate = RiskGate(RiskLimits(max_gross_leverage=0.6))
    venue = VenueConfig(spread="none", participation=0.1)
    result = run_backtest(bars, BuyAndHold(), BacktestConfig(cash=10_000.0, venue=venue), gate)
    assert result.positions[:, 0].tolist() == [0, 100, 200, 300, 400, 500, 500, 500]
    assert result.positions[:, 1].tolist() == [0, 100, 100, 100, 100, 100, 100, 100]
    assert result.risk_events[0].requested.quantity == 500 and result.risk_events[0].approved is not None
    assert result.risk_events[0].approved.quantity == 100
    assert {e.rule for e in result.risk_events} == {"max_gross_leverage"}


def test_compiled_and_python_loops_agree_with_working_orders_and_the_gate() -> None:
    frames = [random_walk_bars(400, s, "2024-01-01", seed=i, freq="h") for i, s in enumerate("AB")]
    bars = pd.concat(frames, ignore_index=True)
    bars["volume"] = np.random.default_rng(0).uniform(0, 2_000, len(bars)).round()
    venue = VenueConfig(participation=0.05, latency_bars=1, fee_rate=0.0005)
    config = BacktestConfig(venue=venue, allow_short=True)
    limits = RiskLimits(max_position_pct=0.45, max_gross_leverage=0.8, max_daily_loss_pct=0.01)
    policy = RandomTarget(seed=3, p_long=0.6)
    gates = RiskGate(limits), RiskGate(limits)
    compiled = run_backtest(bars, policy, config, gates[0])
    python = run_backtest(bars, policy, config, gates[1], compiled=False)
    assert len(compiled.fills) > 50
    same_run(compiled, python)
    assert compiled.risk_events == python.risk_events and gates[0].log == gates[1].log


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fill=st.sampled_from(["close", "next_open", "next_vwap"]),
    participation=st.floats(0.01, 1.0),
    latency=st.integers(0, 3),
    spread_bps=st.floats(0.0, 100.0),
    fee_rate=st.floats(0.0, 0.005),
    min_fee=st.floats(0.0, 3.0),
    fractional=st.booleans(),
    allow_short=st.booleans(),
    flat_at_close=st.booleans(),
    symbols=st.integers(1, 2),
)
def test_identity_solvency_and_the_cap_hold_with_partial_fills(
    seed: int,
    fill: str,
    participation: float,
    latency: int,
    spread_bps: float,
    fee_rate: float,
    min_fee: float,
    fractional: bool,
    allow_short: bool,
    flat_at_close: bool,
    symbols: int,
) -> None:
    rng = np.random.default_rng(seed)
    frames = [
        random_walk_bars(200, s, "2024-01-02", freq="15min", seed=seed + i, volatility=3e-3)
        for i, s in enumerate("AB"[:symbols])
    ]
    bars = pd.concat(frames, ignore_index=True)
    bars["volume"] = rng.uniform(0, 3_000, len(bars)).round()
    venue = VenueConfig(
        fill=fill,
        spread="fixed",
        spread_bps=spread_bps,
        participation=participation,
        latency_bars=latency,
        fee_rate=fee_rate,
        min_fee=min_fee,
    )
    config = BacktestConfig(
        cash=20_000.0, venue=venue, fractional=fractional, allow_short=allow_short, flat_at_close=flat_at_close
    )
    result = run_backtest(bars, RandomTarget(seed=seed, p_long=0.5), config)  # raises if the identity breaks
    assert result.cash.min() >= -1e-9 * config.cash
    table = result.fill_table
    n, k = result.positions.shape
    bar, symbol = table[:, ledger.FILL_BAR].astype(int), table[:, ledger.FILL_SYMBOL].astype(int)
    flows = np.zeros((n, k))
    np.add.at(flows, (bar, symbol), table[:, ledger.FILL_QUANTITY])
    np.testing.assert_allclose(np.cumsum(flows, axis=0), result.positions, atol=1e-6)
    cash = config.cash - np.cumsum(np.bincount(bar, table[:, 2] * table[:, 3] + table[:, ledger.FILL_FEE], minlength=n))
    closes = bars.pivot(index="timestamp", columns="symbol", values="close").to_numpy()
    np.testing.assert_allclose(result.equity, cash + (result.positions * closes).sum(axis=1), rtol=1e-9)
    # every bar's fills stay within the cap, except the session-end flatten
    volume = bars.pivot(index="timestamp", columns="symbol", values="volume").to_numpy()
    traded = np.zeros((n, k))
    np.add.at(traded, (bar, symbol), np.abs(table[:, ledger.FILL_QUANTITY]))
    if flat_at_close:
        traded[result.timestamps.normalize() != np.roll(result.timestamps.normalize(), -1)] = 0.0
        traded[-1] = 0.0
    assert (traded <= participation * volume + 1e-6).all()

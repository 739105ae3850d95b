"""The venue's square-root impact in the backtest loop: a hand-computed entry, every fill paying the
impact of its own quantity, the impact-aware all-in size (largest size that fits, never more than the
cash), impact 0 reproducing the run without impact bit for bit, a larger coefficient never improving
a fixed buy-and-hold, and the compiled and Python loops agreeing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.backtest.helpers import Schedule, same_run

from tradebrain.backtest import ledger
from tradebrain.backtest.baselines import RandomTarget
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.core.errors import InputError
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.market.fills import BUY, SELL, affordable_quantity, affordable_with_impact, market_price, sqrt_impact
from tradebrain.market.venue import VenueConfig, bar_volatility, half_spread
from tradebrain.risk import RiskGate, RiskLimits


def bars_of(closes: list[float], volume: float = 1000.0) -> pd.DataFrame:
    """One symbol, daily bars opening at their close (so the next open is the previous close's level)."""
    c = np.asarray(closes, float)
    return pd.DataFrame(
        {
            "symbol": "X",
            "timestamp": pd.date_range("2024-01-01", periods=len(c), freq="D", tz="UTC"),
            "open": c,
            "high": c * 1.01,
            "low": c * 0.99,
            "close": c,
            "volume": volume,
        }
    )


def walk(n: int, symbols: str = "X", seed: int = 0) -> pd.DataFrame:
    """Random-walk bars with random volume (some bars without any), one frame for every symbol."""
    frames = [
        random_walk_bars(n, s, "2024-01-02", freq="15min", seed=seed + i, volatility=3e-3)
        for i, s in enumerate(symbols)
    ]
    bars = pd.concat(frames, ignore_index=True)
    bars["volume"] = np.random.default_rng(seed).uniform(0, 3_000, len(bars)).round()
    return bars


def test_one_entry_pays_the_hand_computed_impact_of_its_own_size() -> None:
    closes = [10.0, 10.5, 10.0, 10.5, 10.0, 10.0, 10.0]
    venue = VenueConfig(
        spread="fixed", spread_bps=20.0, slippage_bps=5.0, impact="sqrt", impact_coefficient=1.0, volatility_window=3
    )
    result = run_backtest(bars_of(closes), Schedule([0, 0, 0, 0, 1, 1, 1]), BacktestConfig(cash=1000.0, venue=venue))
    # decided at bar 4, filled at bar 5's open (10); sigma of bar 5 = sample std of the 3 log returns ending at bar 4
    returns = np.log(np.array(closes[2:5]) / np.array(closes[1:4]))
    sigma = float(np.std(returns, ddof=1))
    assert sigma == pytest.approx(0.05634, abs=1e-5)

    def price(q: float) -> float:
        return 10.0 * (1.0 + 0.001 + 0.0005 + 1.0 * sigma * math.sqrt(q / 1000.0))

    # the largest whole size whose own price fits 1000: 98 * 10.1914 = 998.8, 99 * 10.1923 = 1009.0
    assert 98 * price(98) <= 1000.0 < 99 * price(99)
    [fill] = result.fills
    assert fill.quantity == 98
    assert fill.price == pytest.approx(price(98), rel=1e-13)
    assert result.cash[-1] == pytest.approx(1000.0 - 98 * price(98), rel=1e-13)
    assert result.cash.min() >= 0.0
    assert "sqrt impact 1" in result.label


def test_every_fast_path_fill_pays_the_impact_of_its_own_quantity() -> None:
    bars = walk(300, seed=3)
    venue = VenueConfig(spread="range", slippage_bps=2.0, impact="sqrt", impact_coefficient=0.7, volatility_window=20)
    config = BacktestConfig(venue=venue, allow_short=True)
    result = run_backtest(bars, RandomTarget(seed=3, p_long=0.5), config)
    table = result.fill_table
    assert len(table) > 50
    bar = table[:, ledger.FILL_BAR].astype(int)
    quantity = table[:, ledger.FILL_QUANTITY]
    half = half_spread(bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy(), venue)[bar]
    sigma = bar_volatility(bars["close"].to_numpy(), 20)[bar]
    volume = bars["volume"].to_numpy()[bar]
    impact = 0.7 * sigma * np.sqrt(np.abs(quantity) / np.where(volume > 0, volume, np.abs(quantity)))
    side = np.sign(quantity)
    expected = bars["open"].to_numpy()[bar] * (1.0 + side * (half + 2e-4 + impact))  # next-open fills
    np.testing.assert_allclose(table[:, ledger.FILL_PRICE], expected, rtol=1e-12)
    assert (impact[sigma > 0] > 0).all()


def test_impact_zero_reproduces_the_run_without_impact_exactly() -> None:
    bars = walk(400, "AB", seed=1)
    policy = RandomTarget(seed=4, p_long=0.55)
    common = {"spread": "range", "fee_rate": 0.0005, "min_fee": 0.5, "latency_bars": 1}
    for participation in (None, 0.2):
        zero = VenueConfig(impact="sqrt", impact_coefficient=0.0, participation=participation, **common)
        none = VenueConfig(participation=participation, **common)
        a = run_backtest(bars, policy, BacktestConfig(venue=zero, allow_short=True))
        b = run_backtest(bars, policy, BacktestConfig(venue=none, allow_short=True))
        assert len(a.fills) > 50
        same_run(a, b)


def test_impact_changes_fills_under_a_participation_cap_too() -> None:
    bars = walk(300, seed=2)
    common = {"spread": "none", "participation": 0.3}
    free = run_backtest(bars, RandomTarget(seed=2), BacktestConfig(venue=VenueConfig(**common)))
    venue = VenueConfig(impact="sqrt", impact_coefficient=2.0, **common)
    charged = run_backtest(bars, RandomTarget(seed=2), BacktestConfig(venue=venue))
    assert charged.final_equity < free.final_equity  # the book path is handed real sigmas, not zeros
    assert charged.cash.min() >= 0.0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), start=st.integers(25, 60))
def test_a_larger_coefficient_never_improves_a_fixed_buy_and_hold(seed: int, start: int) -> None:
    # fractional shares: all the cash is spent either way, so equity is (shares bought) * close and
    # impact only lowers the shares (with whole shares a crash could favour the leftover cash)
    bars = walk(120, seed=seed)
    schedule = Schedule([0.0] * start + [1.0] * (120 - start))
    finals = []
    for coefficient in (0.0, 0.05, 0.2, 0.5, 1.0, 3.0):
        venue = VenueConfig(
            spread="fixed", spread_bps=4.0, fee_rate=0.001, impact="sqrt", impact_coefficient=coefficient
        )
        result = run_backtest(bars, schedule, BacktestConfig(venue=venue, fractional=True))
        finals.append(result.final_equity)
        assert result.cash.min() >= -1e-9 * 10_000.0  # exact with impact; the linear rule to rounding
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in itertools.pairwise(finals))
    assert finals[-1] < finals[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    coefficient=st.floats(0.0, 5.0),
    fill=st.sampled_from(["close", "next_open", "next_typical"]),
    latency=st.integers(0, 2),
    participation=st.sampled_from([None, 0.05, 0.5]),
    fee_rate=st.floats(0.0, 0.005),
    min_fee=st.floats(0.0, 3.0),
    fixed_fee=st.floats(0.0, 2.0),
    fractional=st.booleans(),
    allow_short=st.booleans(),
    flat_at_close=st.booleans(),
    cash_fraction=st.floats(0.3, 1.0),
    symbols=st.integers(1, 2),
)
def test_identity_and_solvency_hold_with_impact(
    seed: int,
    coefficient: float,
    fill: str,
    latency: int,
    participation: float | None,
    fee_rate: float,
    min_fee: float,
    fixed_fee: float,
    fractional: bool,
    allow_short: bool,
    flat_at_close: bool,
    cash_fraction: float,
    symbols: int,
) -> None:
    bars = walk(200, "AB"[:symbols], seed=seed)
    venue = VenueConfig(
        fill=fill,
        spread="fixed",
        spread_bps=10.0,
        impact="sqrt",
        impact_coefficient=coefficient,
        volatility_window=10,
        participation=participation,
        latency_bars=latency,
        fee_rate=fee_rate,
        min_fee=min_fee,
    )
    config = BacktestConfig(
        cash=20_000.0,
        venue=venue,
        fixed_fee=fixed_fee,
        fractional=fractional,
        allow_short=allow_short,
        flat_at_close=flat_at_close,
        cash_fraction=cash_fraction,
    )
    result = run_backtest(bars, RandomTarget(seed=seed, p_long=0.5), config)  # raises if the identity breaks
    # entries are sized to what the cash affords after impact and fees (to rounding without impact)
    assert result.cash.min() >= -1e-9 * config.cash
    table = result.fill_table
    n, k = result.positions.shape
    bar, symbol = table[:, ledger.FILL_BAR].astype(int), table[:, ledger.FILL_SYMBOL].astype(int)
    cash = config.cash - np.cumsum(np.bincount(bar, table[:, 2] * table[:, 3] + table[:, ledger.FILL_FEE], minlength=n))
    closes = bars.pivot(index="timestamp", columns="symbol", values="close").to_numpy()
    np.testing.assert_allclose(result.equity, cash + (result.positions * closes).sum(axis=1), rtol=1e-9)
    flows = np.zeros((n, k))
    np.add.at(flows, (bar, symbol), table[:, ledger.FILL_QUANTITY])
    np.testing.assert_allclose(np.cumsum(flows, axis=0), result.positions, atol=1e-6)


def test_compiled_and_python_loops_agree_with_impact() -> None:
    bars = walk(300, "AB", seed=5)
    limits = RiskLimits(max_position_pct=0.45, max_gross_leverage=0.8, max_daily_loss_pct=0.01)
    for participation in (None, 0.1):
        venue = VenueConfig(
            impact="sqrt", impact_coefficient=0.8, participation=participation, latency_bars=1, fee_rate=0.0005
        )
        config = BacktestConfig(venue=venue, allow_short=True)
        policy = RandomTarget(seed=3, p_long=0.6)
        gates = RiskGate(limits), RiskGate(limits)
        compiled = run_backtest(bars, policy, config, gates[0])
        python = run_backtest(bars, policy, config, gates[1], compiled=False)
        assert len(compiled.fills) > 30
        same_run(compiled, python)
        assert compiled.risk_events == python.risk_events
    # weight targets rebalance with impact too
    weights = BacktestConfig(venue=VenueConfig(impact="sqrt", impact_coefficient=0.8), targets="weight")
    policy = RandomTarget(seed=6, p_long=0.5)
    compiled = run_backtest(bars, policy, weights)
    same_run(compiled, run_backtest(bars, policy, weights, compiled=False))
    assert len(compiled.fills) > 30 and compiled.cash.min() >= -1e-9 * weights.cash


def test_impact_needs_a_volume_column() -> None:
    bars = bars_of([10.0] * 5).drop(columns=["volume"])
    venue = VenueConfig(impact="sqrt", impact_coefficient=0.5)
    with pytest.raises(InputError, match="needs a volume column"):
        run_backtest(bars, Schedule([1] * 5), BacktestConfig(venue=venue))
    # without a coefficient there is no impact, and no volume is needed
    run_backtest(bars, Schedule([1] * 5), BacktestConfig(venue=VenueConfig(impact="sqrt", spread="none")))


@settings(max_examples=200, deadline=None)
@given(
    budget=st.floats(10.0, 1e7),
    reference=st.floats(1.0, 500.0),
    side=st.sampled_from([BUY, SELL]),
    half=st.floats(0.0, 0.01),
    volume=st.one_of(st.just(0.0), st.floats(1.0, 1e5)),  # no volume, or at least a share
    sigma=st.floats(0.0, 0.05),
    coefficient=st.floats(0.0, 3.0),
    rate=st.floats(0.0, 0.01),
    per_share=st.floats(0.0, 0.02),
    minimum=st.floats(0.0, 5.0),
    fixed=st.floats(0.0, 2.0),
    fractional=st.booleans(),
)
def test_the_impact_aware_size_is_the_largest_that_fits(
    budget: float,
    reference: float,
    side: int,
    half: float,
    volume: float,
    sigma: float,
    coefficient: float,
    rate: float,
    per_share: float,
    minimum: float,
    fixed: float,
    fractional: bool,
) -> None:
    def cost(q: float) -> float:  # the ledger's arithmetic at the sizing price (a short's raised by impact)
        impact = sqrt_impact(q, volume, sigma, coefficient)
        price = market_price(reference, side, half, 0.0, impact if side > 0 else -impact)
        return q * price + (max(per_share * q + rate * q * price, minimum) + fixed if q else fixed)

    q = affordable_with_impact(
        budget, reference, side, half, 0.0, volume, sigma, coefficient, rate, per_share, minimum, fixed, fractional
    )
    linear = affordable_quantity(
        budget, market_price(reference, side, half, 0.0, 0.0), rate, per_share, minimum, fixed, fractional
    )
    assert 0.0 <= q <= linear  # impact only ever shrinks an entry
    if coefficient == 0.0 or sigma == 0.0:
        assert q == linear
    if q != linear:  # the search: checked against the exact cost, it never overspends
        assert cost(q) <= budget
    else:  # the linear rule, exact up to rounding
        assert cost(q) <= budget * (1 + 1e-12)
    if fractional:
        assert cost(q * (1 + 1e-9) + 1e-12) > budget  # and is the largest that fits, to rounding
    else:
        assert q == math.floor(q)
        assert cost(q + 1.0) > budget

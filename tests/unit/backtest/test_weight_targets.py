"""Target weights (a fraction of NAV per symbol, long or short) as the general target: sign targets
are their special case, rebalances move to the new weight by hand, and the accounting identity
holds on every bar under random weights, spreads, latency and fees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.backtest.helpers import Schedule, same_run

from tradebrain.backtest.baselines import RandomTarget, SmaCrossover
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.backtest.vectorized import run_vectorized
from tradebrain.core.errors import InputError
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.market.venue import VenueConfig


def bars_of(closes: list[float], symbol: str = "X") -> pd.DataFrame:
    c = np.asarray(closes, float)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.date_range("2024-01-01", periods=len(c), freq="D", tz="UTC"),
            "open": c,
            "high": c,
            "low": c,
            "close": c,
            "volume": 1000.0,
        }
    )


class Weights:
    """Random weights in [low, 1], a new one every `every` bars, per symbol (seeded by the history length)."""

    name = "weights"

    def __init__(self, seed: int, low: float, every: int = 7) -> None:
        self.values = np.random.default_rng(seed).uniform(low, 1.0, 10_000).round(2)
        self.every = every

    def target(self, history: np.ndarray) -> float:
        return float(self.values[len(history) // self.every])

    def targets(self, closes: np.ndarray) -> np.ndarray:
        return self.values[(np.arange(len(closes)) + 1) // self.every]


def test_sign_targets_are_weights_of_one_on_one_symbol() -> None:
    bars = random_walk_bars(800, "X", "2024-01-02", freq="15min", seed=7)
    for venue, short in ((VenueConfig(spread="range", fee_rate=0.001, latency_bars=2), True),
                         (VenueConfig(fill="close", spread="fixed", spread_bps=5.0, min_fee=1.0), False)):  # fmt: skip
        for policy in (SmaCrossover(5, 12), RandomTarget(seed=1)):
            sign = BacktestConfig(venue=venue, allow_short=short, cash_fraction=0.9)
            weight = BacktestConfig(venue=venue, allow_short=short, cash_fraction=0.9, targets="weight")
            a, b = run_backtest(bars, policy, sign), run_backtest(bars, policy, weight)
            assert len(a.fills) > 10
            same_run(a, b)


def test_sign_targets_on_two_symbols_are_weights_of_one_half() -> None:
    frames = [random_walk_bars(300, s, "2024-01-01", seed=i, freq="h") for i, s in enumerate("AB")]
    bars = pd.concat(frames, ignore_index=True)

    class Half:
        name = "half"

        def target(self, history: np.ndarray) -> float:
            return 0.5 if (len(history) // 20) % 2 == 0 else 0.0

    class Sign(Half):
        def target(self, history: np.ndarray) -> float:
            return 2.0 * super().target(history)

    venue = VenueConfig(spread="range", fee_rate=0.0005)
    a = run_backtest(bars, Sign(), BacktestConfig(venue=venue))
    b = run_backtest(bars, Half(), BacktestConfig(venue=venue, targets="weight"))
    assert len(a.fills) > 20
    same_run(a, b)


def test_rebalancing_to_new_weights_by_hand() -> None:
    bars = bars_of([10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 20.0])
    schedule = Schedule([0.5, 0.5, 0.25, 0.25, -0.5, -0.5, 0.0])
    config = BacktestConfig(cash=1000.0, targets="weight", allow_short=True, venue=VenueConfig(spread="none"))
    result = run_backtest(bars, schedule, config)
    # bar 1 (open 10): 0.5 of NAV 1000 -> 50 shares, cash 500. Bar 3 (open 20): NAV 500 + 50 * 20 = 1500,
    # 0.25 of it is 375 -> keep floor(375 / 20) = 18 shares, cash 500 + 32 * 20 = 1140. Bar 5: close the
    # 18 (cash 1500 = NAV), then short 0.5 of 1500 at 20 -> 37 shares. The flat target of bar 6 has no
    # bar left to fill.
    assert result.positions[:, 0].tolist() == [0, 50, 50, 18, 18, -37, -37]
    assert [f.quantity for f in result.fills] == [50, -32, -18, -37]
    assert result.equity[4] == pytest.approx(1500.0)
    assert result.cash[5] == pytest.approx(1500.0 + 37 * 20.0)


def test_long_only_weights_below_zero_are_flat_and_weights_with_a_cap_are_refused() -> None:
    bars = bars_of([10.0] * 4)
    config = BacktestConfig(cash=1000.0, targets="weight", venue=VenueConfig(spread="none"))
    assert not run_backtest(bars, Schedule([-0.5] * 4), config).positions.any()
    with pytest.raises(InputError, match="weight targets"):
        BacktestConfig(targets="weight", venue=VenueConfig(participation=0.1))
    with pytest.raises(InputError, match="targets"):
        BacktestConfig(targets="weights")  # type: ignore[arg-type]


def test_compiled_and_python_loops_agree_on_weights() -> None:
    frames = [random_walk_bars(300, s, "2024-01-01", seed=i, freq="h") for i, s in enumerate("AB")]
    bars = pd.concat(frames, ignore_index=True)
    venue = VenueConfig(latency_bars=1, fee_rate=0.0005)
    config = BacktestConfig(targets="weight", allow_short=True, fractional=True, venue=venue)
    policy = Weights(seed=3, low=-1.0)
    compiled = run_vectorized(bars, policy, config)  # the targets replayed inside the compiled loop
    python = run_backtest(bars, policy, config, compiled=False)
    assert len(python.fills) > 50
    same_run(compiled, python)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fill=st.sampled_from(["close", "next_open", "next_typical"]),
    spread_bps=st.floats(0.0, 100.0),
    latency=st.integers(0, 3),
    fee_rate=st.floats(0.0, 0.005),
    min_fee=st.floats(0.0, 2.0),
    fractional=st.booleans(),
    allow_short=st.booleans(),
    flat_at_close=st.booleans(),
    symbols=st.integers(1, 3),
)
def test_identity_holds_under_random_weights(
    seed: int,
    fill: str,
    spread_bps: float,
    latency: int,
    fee_rate: float,
    min_fee: float,
    fractional: bool,
    allow_short: bool,
    flat_at_close: bool,
    symbols: int,
) -> None:
    frames = [
        random_walk_bars(200, s, "2024-01-02", freq="15min", seed=seed + i, volatility=3e-3)
        for i, s in enumerate("ABC"[:symbols])
    ]
    bars = pd.concat(frames, ignore_index=True)
    venue = VenueConfig(
        fill=fill, spread="fixed", spread_bps=spread_bps, latency_bars=latency, fee_rate=fee_rate, min_fee=min_fee
    )
    config = BacktestConfig(
        cash=20_000.0,
        venue=venue,
        fractional=fractional,
        allow_short=allow_short,
        flat_at_close=flat_at_close,
        targets="weight",
    )
    policy = Weights(seed, low=-1.0 if allow_short else 0.0, every=5)
    result = run_backtest(bars, policy, config)  # raises if the identity breaks on any bar
    closes = bars.pivot(index="timestamp", columns="symbol", values="close").to_numpy()
    table = result.fill_table
    cash = config.cash - np.cumsum(
        np.bincount(table[:, 0].astype(int), table[:, 2] * table[:, 3] + table[:, 4], minlength=len(closes))
    )
    np.testing.assert_allclose(result.equity, cash + (result.positions * closes).sum(axis=1), rtol=1e-9)
    if not allow_short:  # long only: buys never spend more than the cash after costs
        assert result.cash.min() >= -1e-9 * config.cash - 2.0 * min_fee  # a sale's minimum fee may exceed it

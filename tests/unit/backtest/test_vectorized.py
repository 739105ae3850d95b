"""The vectorised fast path gives exactly the event-driven engine's trades and equity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradebrain.backtest.baselines import BuyAndHold, RandomTarget, SignalPolicy, SmaCrossover
from tradebrain.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from tradebrain.backtest.vectorized import run_vectorized
from tradebrain.core.errors import InputError
from tradebrain.data.sources.files import read_bars_csv
from tradebrain.risk import RiskGate, RiskLimits

NVDA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nvda-daily-1999-2014.csv"


def walk_bars(n: int, seed: int, freq: str = "D", symbol: str = "X") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    opens = close * np.exp(rng.normal(0.0, 0.003, n))
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.date_range("2024-01-02 14:30", periods=n, freq=freq, tz="UTC"),
            "open": opens,
            "high": np.maximum(opens, close),
            "low": np.minimum(opens, close),
            "close": close,
            "volume": 1.0,
        }
    )


class Momentum:
    """Long after an up bar, short after a down bar (a long/short signal for the tests)."""

    name = "momentum"

    def target(self, history: np.ndarray) -> float:
        return float(np.sign(history[-1] - history[-2])) if len(history) > 1 else 0.0

    def targets(self, closes: np.ndarray) -> np.ndarray:
        return np.asarray(np.r_[0.0, np.sign(np.diff(closes))], dtype=float)


def assert_same(event: BacktestResult, fast: BacktestResult) -> None:
    assert event.trades == fast.trades
    assert event.risk_events == fast.risk_events
    assert event.fills == fast.fills
    np.testing.assert_allclose(fast.equity, event.equity, rtol=1e-9, atol=0)
    np.testing.assert_allclose(fast.cash, event.cash, rtol=1e-9, atol=0)
    assert np.array_equal(fast.positions, event.positions)
    pd.testing.assert_frame_equal(fast.daily, event.daily)


CONFIGS = [
    BacktestConfig(),
    BacktestConfig(commission=0.001),
    BacktestConfig(commission=0.002, fixed_fee=1.0, slippage_bps=5.0),
    BacktestConfig(commission=0.001, fill="close"),
    BacktestConfig(commission=0.001, fractional=True, slippage_bps=2.0),
    BacktestConfig(commission=0.001, allow_short=True, fixed_fee=0.25),
    BacktestConfig(commission=0.001, flat_at_close=True),
    BacktestConfig(commission=0.001, flat_at_close=True, fill="close", allow_short=True),
    BacktestConfig(cash=40.0, commission=0.001),  # some entries are unaffordable and retried
]
POLICIES: list[SignalPolicy] = [BuyAndHold(), SmaCrossover(5, 15), RandomTarget(seed=7), Momentum()]


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_vectorised_equals_event_driven_on_synthetic_minute_bars(config: BacktestConfig, policy: SignalPolicy) -> None:
    bars = walk_bars(1500, 11, freq="37min")  # spans several UTC dates for flat_at_close
    python = run_backtest(bars, policy, config, compiled=False)
    assert_same(python, run_backtest(bars, policy, config))
    assert_same(python, run_vectorized(bars, policy, config))


@pytest.mark.parametrize("commission", [0.0, 0.001])
def test_vectorised_equals_event_driven_on_nvda_daily(commission: float) -> None:
    bars = read_bars_csv(NVDA, "NVDA")
    config = BacktestConfig(cash=10_000.0, commission=commission, slippage_bps=1.0)
    event, fast = run_backtest(bars, SmaCrossover(10, 20), config), run_vectorized(bars, SmaCrossover(10, 20), config)
    assert len(event.trades) > 50
    assert_same(event, fast)
    assert_same(event, run_backtest(bars, SmaCrossover(10, 20), config, compiled=False))


@pytest.mark.parametrize("policy", [SmaCrossover(3, 7), RandomTarget(seed=2)], ids=lambda p: p.name)
def test_several_symbols_with_a_risk_gate_agree_in_all_three_paths(policy: SignalPolicy) -> None:
    bars = pd.concat([walk_bars(300, 1, "h", symbol="A"), walk_bars(300, 2, "h", symbol="B")], ignore_index=True)
    config = BacktestConfig(commission=0.001, flat_at_close=True)

    def gate() -> RiskGate:
        return RiskGate(RiskLimits(max_position_pct=0.4, max_daily_loss_pct=0.01))

    python = run_backtest(bars, policy, config, gate(), compiled=False)
    assert python.positions.any() and python.risk_events
    assert_same(python, run_backtest(bars, policy, config, gate()))
    assert_same(python, run_vectorized(bars, policy, config, gate()))


def test_a_nan_target_is_rejected() -> None:
    class Broken(Momentum):
        def targets(self, closes: np.ndarray) -> np.ndarray:
            return np.full(len(closes), np.nan)

    with pytest.raises(InputError, match="NaN"):
        run_vectorized(walk_bars(5, 0), Broken())


@pytest.mark.parametrize("fractional", [False, True])
def test_an_unaffordable_entry_is_retried_until_the_price_allows_it(fractional: bool) -> None:
    bars = walk_bars(60, 3)
    falling = np.linspace(130.0, 60.0, 60)
    bars["open"], bars["close"] = falling * 1.001, falling
    bars["high"], bars["low"] = falling * 1.002, falling * 0.999
    config = BacktestConfig(cash=100.0, commission=0.001, fixed_fee=0.5, fractional=fractional)
    event, fast = run_backtest(bars, BuyAndHold(), config), run_vectorized(bars, BuyAndHold(), config)
    assert_same(event, fast)
    entered = int(np.flatnonzero(event.positions[:, 0])[0])
    assert (entered > 1) != fractional  # whole shares wait for a price <= ~99.4; fractions buy at once

"""Issue 5 acceptance: SMA(10, 20) long-only on real NVDA daily bars (1999-2014) gives the same
trades and final equity in the event-driven and the vectorised engine, the accounting identity
holds on every bar, and perturbing the future never changes a past decision."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradebrain.backtest.baselines import SmaCrossover
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.backtest.vectorized import run_vectorized
from tradebrain.data.sources.files import read_bars_csv

NVDA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nvda-daily-1999-2014.csv"


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return read_bars_csv(NVDA, "NVDA")


@pytest.mark.parametrize("commission", [0.0, 0.001])
def test_sma_10_20_same_trades_and_final_equity_in_both_engines(bars: pd.DataFrame, commission: float) -> None:
    config = BacktestConfig(cash=10_000.0, commission=commission)
    event = run_backtest(bars, SmaCrossover(10, 20), config)
    fast = run_vectorized(bars, SmaCrossover(10, 20), config)
    assert len(event.trades) > 50
    assert event.trades == fast.trades
    assert event.final_equity == pytest.approx(fast.final_equity, rel=1e-12)
    np.testing.assert_allclose(fast.equity, event.equity, rtol=1e-9, atol=0)
    # All-in, whole shares: every entry buys what the cash affords after commission.
    for fill in event.fills[::2]:
        assert fill.quantity == np.floor(fill.quantity) and fill.quantity > 0


@pytest.mark.parametrize("commission", [0.0, 0.001])
def test_accounting_identity_on_every_bar(bars: pd.DataFrame, commission: float) -> None:
    config = BacktestConfig(cash=10_000.0, commission=commission)
    result = run_backtest(bars, SmaCrossover(10, 20), config)  # checks and raises inside
    closes = bars["close"].to_numpy()
    fills = result.fills
    bar_of = {ts: i for i, ts in enumerate(result.timestamps)}
    cash, position, avg, realised, fees = config.cash, 0.0, 0.0, 0.0, 0.0
    fill_bars = [bar_of[f.timestamp] for f in fills]
    k = 0
    for t in range(len(closes)):  # an independent recomputation of both sides of the identity
        while k < len(fills) and fill_bars[k] == t:
            f = fills[k]
            cash -= f.quantity * f.price + f.fee
            fees += f.fee
            if f.quantity > 0:
                avg, position = f.price, position + f.quantity
            else:
                realised += -f.quantity * (f.price - avg)
                position += f.quantity
            k += 1
        lhs = cash + position * closes[t]
        rhs = config.cash + realised + position * (closes[t] - avg) - fees
        assert lhs == pytest.approx(rhs, rel=1e-9)
        assert lhs == pytest.approx(result.equity[t], rel=1e-12)


def test_perturbing_the_future_never_changes_a_past_decision(bars: pd.DataFrame) -> None:
    config = BacktestConfig(cash=10_000.0, commission=0.001)
    original = run_backtest(bars, SmaCrossover(10, 20), config)
    rng = np.random.default_rng(0)
    n = len(bars)
    for t in (30, 500, 1234, 2500, n - 10):
        perturbed = bars.copy()
        factor = np.exp(rng.normal(0.0, 0.1, n - t - 1))
        for column in ("open", "high", "low", "close"):
            perturbed.loc[t + 1 :, column] = perturbed.loc[t + 1 :, column].to_numpy() * factor
        run = run_backtest(perturbed, SmaCrossover(10, 20), config)
        # Decisions at or before t fill by bar t + 1's open: positions through t are unchanged, and
        # so is the side held at t + 1 (its size is set by bar t + 1's open, where it fills).
        assert np.array_equal(run.positions[: t + 1], original.positions[: t + 1])
        assert np.array_equal(np.sign(run.positions[: t + 2]), np.sign(original.positions[: t + 2]))
        assert np.array_equal(run.equity[: t + 1], original.equity[: t + 1])
        assert not np.array_equal(run.equity, original.equity)


@pytest.mark.parametrize("commission", [0.0, 0.001])
def test_next_open_fills_with_commission_match_backtesting_py_to_the_cent(
    bars: pd.DataFrame, commission: float
) -> None:
    """The same SMA(10, 20) strategy in backtesting.py (its default: fill at the next bar's open,
    all-in whole shares, commission on both sides) makes the same trades at the same prices and ends
    with the same equity to the cent. `finalize_trades` stays off: backtesting.py would otherwise
    settle at the last bar in its own way, which is not a fill either engine makes."""
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class Crossover(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(SMA, self.data.Close, 10)
            self.slow = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    frame = bars.set_index(bars["timestamp"].dt.tz_convert(None))[["open", "high", "low", "close", "volume"]]
    frame.columns = ["Open", "High", "Low", "Close", "Volume"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its progress bar and pandas notes
        theirs = Backtest(frame, Crossover, cash=10_000, commission=commission, finalize_trades=False).run()
    ours = run_backtest(bars, SmaCrossover(10, 20), BacktestConfig(cash=10_000.0, commission=commission))
    trades = ours.trades_frame()
    expected = theirs["_trades"]
    assert len(trades) == len(expected) > 100
    np.testing.assert_array_equal(trades["quantity"].to_numpy(), expected["Size"].to_numpy())
    np.testing.assert_array_equal(trades["entry_bar"].to_numpy(), expected["EntryBar"].to_numpy())
    np.testing.assert_allclose(trades["entry_price"].to_numpy(), expected["EntryPrice"].to_numpy(), rtol=1e-12)
    assert round(ours.final_equity, 2) == round(float(theirs["Equity Final [$]"]), 2)

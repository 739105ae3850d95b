"""The event-driven engine with the real risk gate: limits hold on fills, the kill switch flattens
within the bar that breaches the daily loss limit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradebrain.backtest.baselines import BuyAndHold
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.data.schema import validate_bars
from tradebrain.risk import RiskGate, RiskLimits


def _bars(closes: np.ndarray, freq: str = "h") -> pd.DataFrame:
    opens = np.concatenate([[closes[0]], closes[:-1]])
    frame = pd.DataFrame(
        {
            "symbol": "X",
            "timestamp": pd.date_range("2024-01-02 14:00", periods=len(closes), freq=freq, tz="UTC"),
            "open": opens,
            "high": np.maximum(opens, closes) * 1.001,
            "low": np.minimum(opens, closes) * 0.999,
            "close": closes,
            "volume": 1000.0,
        }
    )
    return validate_bars(frame)


def test_leverage_limit_caps_buy_and_hold() -> None:
    closes = 100.0 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.002, 300)))
    gate = RiskGate(RiskLimits(max_gross_leverage=0.5))
    result = run_backtest(_bars(closes), BuyAndHold(), BacktestConfig(cash=10_000.0), gate)
    fill = result.fills[0]
    assert fill.quantity * fill.price <= 0.5 * 10_000.0 + 1e-6
    assert any(event.rule == "max_gross_leverage" for event in gate.log)


def test_kill_switch_flattens_within_the_breaching_bar() -> None:
    closes = np.full(12, 100.0)
    closes[6:] = 90.0  # a 10% drop on bar 6, while fully invested
    gate = RiskGate(RiskLimits(max_daily_loss_pct=0.05))
    result = run_backtest(_bars(closes), BuyAndHold(), BacktestConfig(cash=10_000.0), gate)
    positions = result.positions[:, 0]
    assert positions[5] > 0
    assert positions[6] == 0  # flattened at the close of the bar that breached the limit
    same_day = result.timestamps.date == result.timestamps[6].date()
    assert np.all(positions[6:][same_day[6:]] == 0)  # no new risk for the rest of that UTC day
    assert positions[-1] > 0  # the next UTC day (bars from 00:00) buy-and-hold may invest again
    assert any(event.rule == "max_daily_loss_pct" for event in gate.log)

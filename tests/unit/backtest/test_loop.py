"""The one backtest loop: its compiled and pure-Python forms agree to the bit with every risk rule
on, and the risk interventions reach both the result and the gate's log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradebrain.backtest.baselines import RandomTarget
from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.risk import RiskGate, RiskLimits

LIMITS = [
    RiskLimits(max_position_pct=0.45, max_gross_leverage=0.8, max_daily_loss_pct=0.01, max_drawdown_pct=0.3),
    RiskLimits(var_limit_pct=0.004, var_window=20),
    RiskLimits(var_limit_pct=0.004, var_window=20, var_method="parametric", max_daily_loss_pct=0.02),
]


def _two_symbols() -> pd.DataFrame:
    frames = [random_walk_bars(24 * 60, s, "2024-01-01", seed=i, freq="h", vwap_gaps=None) for i, s in enumerate("AB")]
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("limits", LIMITS, ids=["loss-limits", "historical-var", "parametric-var"])
def test_compiled_and_python_loops_agree_with_every_rule(limits: RiskLimits) -> None:
    bars = _two_symbols()
    config = BacktestConfig(commission=0.0005, slippage_bps=1.0, allow_short=True, fractional=True)
    policy = RandomTarget(seed=3, p_long=0.6)
    gates = RiskGate(limits), RiskGate(limits)
    compiled = run_backtest(bars, policy, config, gates[0])
    python = run_backtest(bars, policy, config, gates[1], compiled=False)
    assert compiled.risk_events, "the limits must bind in this test"
    assert np.array_equal(compiled.equity, python.equity)
    assert np.array_equal(compiled.positions, python.positions)
    assert compiled.trades == python.trades and compiled.risk_events == python.risk_events
    assert gates[0].log == gates[1].log
    assert np.array_equal(gates[0].state, gates[1].state, equal_nan=True)

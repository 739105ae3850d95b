"""Vectorised fast path for signal policies (one symbol or several on one clock).

Why: a policy whose target per bar does not depend on its own fills (SMA crossover, buy-and-hold,
random) can compute every target with `targets(closes)` in one numpy call. The fills, sizing,
costs, risk gate and accounting then run through the engine's compiled loop reading those
targets, so the result is EXACTLY the event-driven engine's (same trades, same equity to the last
bit), by construction rather than by a second implementation of the bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradebrain.backtest.baselines import SignalPolicy
from tradebrain.backtest.engine import BacktestConfig, BacktestResult, Market, market_from_bars, run_backtest
from tradebrain.core.errors import InputError
from tradebrain.risk.gate import RiskGate
from tradebrain.rl.kernels import PRECOMPUTED, PolicyKernel


class _Precomputed:
    """Targets computed beforehand, replayed bar by bar by the compiled loop."""

    def __init__(self, name: str, targets: np.ndarray) -> None:
        self.name = name
        self.targets = targets

    def kernel(self, n_bars: int, n_symbols: int) -> PolicyKernel:
        return PolicyKernel(PRECOMPUTED, np.zeros(0), self.targets)


def run_vectorized(
    bars: pd.DataFrame | Market,
    policy: SignalPolicy,
    config: BacktestConfig | None = None,
    risk_gate: RiskGate | None = None,
) -> BacktestResult:
    """Backtest a signal policy from `policy.targets(closes)`, one column per symbol; equal to
    `run_backtest(bars, policy, config, risk_gate)`."""
    market = bars if isinstance(bars, Market) else market_from_bars(bars)
    n, k = market.close.shape
    targets = np.empty((n, k))
    for j in range(k):
        column = np.asarray(policy.targets(np.ascontiguousarray(market.close[:, j])), dtype=float)
        if column.shape != (n,):
            raise InputError(f"{policy.name}: targets() returned shape {column.shape}, expected ({n},)")
        if np.isnan(column).any():
            t = int(np.flatnonzero(np.isnan(column))[0])
            raise InputError(f"{policy.name}: target at bar {t} is NaN; return 1 (long), 0 or -1 (short)")
        targets[:, j] = column
    return run_backtest(market, _Precomputed(policy.name, targets), config, risk_gate)

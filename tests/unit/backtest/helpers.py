"""What the venue, working-order and weight-target tests of the backtest share: a scripted policy and
the check that two runs are the same run."""

from __future__ import annotations

import numpy as np

from tradebrain.backtest.engine import BacktestResult


class Schedule:
    """Targets from a fixed list (the target of bar t is schedule[t])."""

    name = "schedule"

    def __init__(self, schedule: list[float]) -> None:
        self.schedule = np.asarray(schedule, float)

    def target(self, history: np.ndarray) -> float:
        return float(self.schedule[len(history) - 1])


def same_run(a: BacktestResult, b: BacktestResult) -> None:
    """Equal equity, positions and fills, to the bit."""
    assert np.array_equal(a.equity, b.equity)
    assert np.array_equal(a.positions, b.positions)
    assert np.array_equal(a.fill_table, b.fill_table)

"""Day-trading desk: session splits, intervals across seeds, the equal-weight portfolio, config checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tradebrain.core.config import with_updates
from tradebrain.core.errors import ConfigError, InputError
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.study import (
    Cell,
    DayTradingDeskConfig,
    aggregate,
    portfolio_cells,
    split_sessions,
    t_interval,
)


def test_sessions_by_count_and_by_dates(future_days: list[TradingDay]) -> None:
    train, test = split_sessions(future_days, "30", "11")
    assert len(train) == 30 and len(test) == 11 and test[0] is future_days[30]
    first, last = future_days[0].timestamps[0].date(), future_days[9].timestamps[0].date()
    train, test = split_sessions(future_days, f"{first}:{last}", "5")
    assert len(train) == 10 and test == future_days[-5:]
    with pytest.raises(InputError, match="out of sample"):
        split_sessions(future_days, "35", "10")
    with pytest.raises(InputError, match="41 sessions"):
        split_sessions(future_days, "50", "1")
    with pytest.raises(InputError, match="date range"):
        split_sessions(future_days, "thirty", "1")


def test_t_interval_by_hand() -> None:
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.302653
    assert mean == 2.0 and hi - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6) and lo == 4.0 - hi
    assert t_interval([0.2, 0.9, 0.95], (0.0, 1.0))[1:] == (0.0, 1.0)
    assert math.isnan(t_interval([5.0])[1]) and t_interval([5.0])[0] == 5.0


def _cell(symbol: str, seed: int, agent: list[float], held: list[float], dates: list[str]) -> Cell:
    index = pd.DatetimeIndex(dates, tz="UTC")
    metrics = {"total_return": agent[-1] / 100 - 1, "sharpe": 1.0, "max_drawdown": 0.0,
               "number_of_trades": 3.0, "win_rate": 0.5}  # fmt: skip
    return Cell(symbol, 0.0, seed, metrics, metrics, pd.Series(agent, index), pd.Series(held, index), 1.0, None)


def test_equal_weight_portfolio_and_aggregate() -> None:
    cells = [
        _cell("A", 0, [110.0, 121.0], [100.0, 100.0], ["2024-01-02", "2024-01-03"]),
        _cell("B", 0, [90.0], [100.0], ["2024-01-03"]),  # trades only on the second date
    ]
    [portfolio] = portfolio_cells(cells, cash=100.0)
    # day 1: A 55 + B (not yet started) 50; day 2: A 60.5 + B 45
    assert portfolio.agent_equity.tolist() == [105.0, 105.5]
    assert portfolio.agent["total_return"] == pytest.approx(0.055)
    table = aggregate([*cells, _cell("A", 1, [100.0, 99.0], [100.0, 100.0], ["2024-01-02", "2024-01-03"])])
    row = table[table["symbol"] == "A"].iloc[0]
    assert row["seeds"] == 2 and row["agent_total_return"] == pytest.approx(np.mean([0.21, -0.01]))


def test_config_rejects_an_algorithm_without_discrete_masking_support() -> None:
    with pytest.raises(ConfigError, match="maskable-ppo"):
        with_updates(DayTradingDeskConfig(), {"train.algo": "sac"})

"""Shared test setup: one torch thread (small networks run fastest that way here), and the real
1-minute index-future sample (41 sessions) as bars and trading days for the day-trading tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from tradebrain.data.sources.files import read_bars_csv
from tradebrain.envs.day_trading import DayTradingEnvConfig, TradingDay, trading_days

torch.set_num_threads(1)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ONE_MINUTE = DATA / "index-future-1min-2006.csv"


@pytest.fixture(scope="session")
def future_bars() -> pd.DataFrame:
    """The sample's bars (its header names one column fewer than the rows: read with a warning)."""
    if not ONE_MINUTE.is_file():
        pytest.skip(f"real sample not found at {ONE_MINUTE}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_bars_csv(ONE_MINUTE, "FUT")


@pytest.fixture(scope="session")
def future_days(future_bars: pd.DataFrame) -> list[TradingDay]:
    """The 41 sessions with every feature (New York dates: the sessions run into the evening)."""
    return trading_days(future_bars, DayTradingEnvConfig(), calendar=None)

"""Shared test setup: one torch thread (small networks run fastest that way here), the real
1-minute index-future sample (41 sessions) as bars and trading days for the day-trading tests, and
small experiment specs written into a temporary folder."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from tradebrain.data.sources.files import read_bars_csv
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, trading_days

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


# ----------------------------------------------------------------------- experiment specs

TINY_BASE = {
    "train": {"timesteps": 1500, "n_envs": 8, "hyperparams": {"batch_size": 128}},
    "evaluate": {"episodes": 30},
}


def write_spec(folder: Path, name: str = "tiny", **fields: object) -> Path:
    """A spec file with a tiny budget; `fields` replace or add top-level spec keys."""
    data: dict[str, object] = {"name": name, "desk": "execution", "base": TINY_BASE, "seeds": [0],
                               "tensorboard": False, "write_report": False}  # fmt: skip
    data.update(fields)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


SpecWriter = Callable[..., Path]


@pytest.fixture
def make_spec(tmp_path: Path) -> SpecWriter:
    """write_spec bound to the test's temporary folder."""
    return lambda name="tiny", **fields: write_spec(tmp_path, name, **fields)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    """A 2 x 2 grid (algorithm x risk aversion) over two seeds."""
    return write_spec(tmp_path, grid={"train.algo": ["ppo", "sac"], "task.risk_aversion": [1e-6, 2e-6]}, seeds=[0, 1])

"""Built-in datasets from gym-anytrading in the bar schema."""

from __future__ import annotations

import pandas as pd
import pytest

from tradebrain.core.errors import InputError
from tradebrain.data.schema import BAR_COLUMNS
from tradebrain.data.sources.datasets import DATASETS, load_dataset


def test_googl_daily() -> None:
    bars = load_dataset("googl-daily")
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert len(bars) == 2_335
    assert set(bars["symbol"]) == {"GOOGL"}
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2009-05-22", tz="UTC")
    assert (bars["timestamp"].dt.hour == 0).all()


def test_eurusd_hourly() -> None:
    bars = load_dataset("eurusd-hourly")
    assert len(bars) == 6_225
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2017-01-01 22:00", tz="UTC")
    assert bars["timestamp"].diff().dropna().min() == pd.Timedelta(hours=1)
    assert bars["close"].between(1.0, 1.3).all()


def test_catalogue_and_did_you_mean() -> None:
    assert set(DATASETS) == {"googl-daily", "eurusd-hourly"}
    assert all(isinstance(text, str) and text for text in DATASETS.values())
    with pytest.raises(InputError, match="did you mean 'googl-daily'"):
        load_dataset("google-daily")

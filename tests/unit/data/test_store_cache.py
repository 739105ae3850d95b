"""CachedBarSource: the remote source is asked only for what the store does not cover."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import CachedBarSource, ParquetBarStore


def make_bars(n: int, symbol: str = "TEST", start: str = "2024-03-01 22:00", seed: int = 0) -> pd.DataFrame:
    """`n` validated bars of `symbol` every min from `start` (UTC); every 7th vwap is NaN."""
    return random_walk_bars(n, symbol, start, freq="min", seed=seed)


class FakeSource:
    """A remote source over a fixed table of bars that records every range it is asked for."""

    def __init__(self, bars: pd.DataFrame) -> None:
        self.bars = bars
        self.calls: list[tuple[str, pd.Timestamp, pd.Timestamp]] = []

    def __call__(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        self.calls.append((symbol, start, end))
        stamps = self.bars["timestamp"]
        return self.bars[(self.bars["symbol"] == symbol) & (stamps >= start) & (stamps < end)]


@pytest.fixture
def bars() -> pd.DataFrame:
    return make_bars(600)


def _at(bars: pd.DataFrame, i: int) -> pd.Timestamp:
    return pd.Timestamp(bars["timestamp"].iloc[i])


def test_first_get_fetches_everything_and_second_get_nothing(tmp_path: Path, bars: pd.DataFrame) -> None:
    source = FakeSource(bars)
    cached = CachedBarSource(ParquetBarStore(tmp_path), source)
    start, end = _at(bars, 100), _at(bars, 300)
    first = cached.get("TEST", start, end)
    pd.testing.assert_frame_equal(first, bars.iloc[100:300].reset_index(drop=True))
    assert source.calls == [("TEST", start, end)]
    again = cached.get("TEST", _at(bars, 150), _at(bars, 250))
    pd.testing.assert_frame_equal(again, bars.iloc[150:250].reset_index(drop=True))
    assert len(source.calls) == 1


def test_only_the_gaps_before_and_after_the_covered_span_are_fetched(tmp_path: Path, bars: pd.DataFrame) -> None:
    source = FakeSource(bars)
    cached = CachedBarSource(ParquetBarStore(tmp_path), source)
    cached.get("TEST", _at(bars, 100), _at(bars, 300))
    source.calls.clear()
    wide = cached.get("TEST", _at(bars, 50), _at(bars, 400))
    pd.testing.assert_frame_equal(wide, bars.iloc[50:400].reset_index(drop=True))
    assert source.calls == [("TEST", _at(bars, 50), _at(bars, 100)), ("TEST", _at(bars, 300), _at(bars, 400))]


def test_a_range_entirely_after_the_span_is_one_fetch(tmp_path: Path, bars: pd.DataFrame) -> None:
    source = FakeSource(bars)
    cached = CachedBarSource(ParquetBarStore(tmp_path), source)
    cached.get("TEST", _at(bars, 0), _at(bars, 100))
    source.calls.clear()
    later = cached.get("TEST", _at(bars, 400), _at(bars, 500))
    pd.testing.assert_frame_equal(later, bars.iloc[400:500].reset_index(drop=True))
    assert source.calls == [("TEST", _at(bars, 400), _at(bars, 500))]


def test_an_empty_answer_writes_nothing_and_returns_an_empty_frame(tmp_path: Path, bars: pd.DataFrame) -> None:
    source = FakeSource(bars)
    store = ParquetBarStore(tmp_path)
    cached = CachedBarSource(store, source)
    result = cached.get("OTHER", _at(bars, 0), _at(bars, 10))
    assert result.empty and store.symbols() == []
    assert source.calls == [("OTHER", _at(bars, 0), _at(bars, 10))]


def test_bars_outside_the_asked_range_are_not_stored(tmp_path: Path, bars: pd.DataFrame) -> None:
    store = ParquetBarStore(tmp_path)
    cached = CachedBarSource(store, lambda symbol, start, end: bars)
    cached.get("TEST", _at(bars, 10), _at(bars, 20))
    assert store.coverage("TEST") == (_at(bars, 10), _at(bars, 19), 10)


def test_bad_ranges_are_rejected(tmp_path: Path, bars: pd.DataFrame) -> None:
    cached = CachedBarSource(ParquetBarStore(tmp_path), FakeSource(bars))
    with pytest.raises(ValueError, match="start < end"):
        cached.get("TEST", _at(bars, 20), _at(bars, 10))
    with pytest.raises(ValueError, match="positive"):
        CachedBarSource(ParquetBarStore(tmp_path), FakeSource(bars), bar=pd.Timedelta(0))

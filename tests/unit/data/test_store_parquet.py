"""ParquetBarStore: round trip, idempotent upsert, range reads, crash safety and validation first."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tradebrain.data.schema import BAR_COLUMNS, DataValidationError
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import BarStore, ParquetBarStore
from tradebrain.data.store import parquet as parquet_module
from tradebrain.data.store.base import in_store_form


def make_bars(n: int, symbol: str = "TEST", start: str = "2024-02-20 22:00", seed: int = 0) -> pd.DataFrame:
    """`n` validated bars of `symbol` every 20min from `start` (UTC); every 7th vwap is NaN."""
    return random_walk_bars(n, symbol, start, freq="20min", seed=seed)


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture
def store(tmp_path: Path) -> ParquetBarStore:
    return ParquetBarStore(tmp_path / "bars", threads=2)


def test_is_a_bar_store(store: ParquetBarStore) -> None:
    assert isinstance(store, BarStore)


def test_round_trip_is_unchanged_including_nan_vwap(store: ParquetBarStore) -> None:
    bars = make_bars(3000)  # spans three UTC months
    assert bars["vwap"].isna().any()
    assert store.write(bars) == 3000
    pd.testing.assert_frame_equal(store.read("TEST"), bars)
    days = sorted(p.parent.name for p in (store.root / "symbol=TEST").rglob("part.parquet"))
    assert days == ["date=2024-02", "date=2024-03", "date=2024-04"]


def test_reingest_changes_no_file_and_no_row(store: ParquetBarStore) -> None:
    bars = make_bars(3000)
    store.write(bars)
    before = _files(store.root)
    store.write(bars)
    store.write(bars.iloc[100:200])
    assert _files(store.root) == before
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_upsert_replaces_values_and_adds_new_rows(store: ParquetBarStore) -> None:
    bars = make_bars(3000)
    store.write(bars.iloc[:2000])
    changed = bars.iloc[1500:3000].copy()
    changed[["open", "high", "low", "close"]] *= 2.0
    changed["vwap"] = changed["vwap"] * 2.0
    store.write(changed)
    expected = pd.concat([bars.iloc[:1500], changed], ignore_index=True)
    pd.testing.assert_frame_equal(store.read("TEST"), expected)


def test_range_reads_are_start_inclusive_end_exclusive(store: ParquetBarStore) -> None:
    bars = make_bars(3000)
    store.write(bars)
    start, end = bars["timestamp"].iloc[500], bars["timestamp"].iloc[2500]
    pd.testing.assert_frame_equal(store.read("TEST", start, end), bars.iloc[500:2500].reset_index(drop=True))
    pd.testing.assert_frame_equal(store.read("TEST", start=start), bars.iloc[500:].reset_index(drop=True))
    pd.testing.assert_frame_equal(store.read("TEST", end=end), bars.iloc[:2500].reset_index(drop=True))
    assert store.read("TEST", "2030-01-01 00:00Z").empty


def test_unknown_symbol_reads_an_empty_frame_with_the_schema(store: ParquetBarStore) -> None:
    frame = store.read("NOPE")
    assert frame.empty and tuple(frame.columns) == BAR_COLUMNS
    assert store.coverage("NOPE") is None
    assert store.delete("NOPE") == 0


def test_naive_bounds_are_rejected(store: ParquetBarStore) -> None:
    store.write(make_bars(10))
    with pytest.raises(ValueError, match="time zone"):
        store.read("TEST", "2024-03-01 22:00")


def test_symbols_coverage_and_delete(store: ParquetBarStore) -> None:
    spy, odd = make_bars(2000, "SPY"), make_bars(50, "BRK/B=X", seed=1)
    store.write(pd.concat([odd, spy], ignore_index=True))
    assert store.symbols() == ["BRK/B=X", "SPY"]
    assert store.coverage("SPY") == (spy["timestamp"].iloc[0], spy["timestamp"].iloc[-1], 2000)
    pd.testing.assert_frame_equal(store.read("BRK/B=X"), odd)
    assert store.delete("SPY") == 2000
    assert store.symbols() == ["BRK/B=X"]
    assert store.read("SPY").empty


def test_interleaved_symbols_are_accepted(store: ParquetBarStore) -> None:
    a, b = make_bars(30, "A"), make_bars(30, "B", seed=2)
    mixed = pd.concat([a, b]).sort_values(["timestamp", "symbol"], kind="stable")
    store.write(mixed)
    pd.testing.assert_frame_equal(store.read("A"), a)
    pd.testing.assert_frame_equal(store.read("B"), b)


def test_crash_in_the_middle_leaves_old_data_and_no_temporaries(
    store: ParquetBarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars = make_bars(3000)
    store.write(bars)
    before = _files(store.root)
    changed = make_bars(6000, seed=9)  # touches the three old months and adds new ones
    calls = {"n": 0}
    real = parquet_module.write_part

    def failing(table: object, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        real(table, path)  # type: ignore[arg-type]

    monkeypatch.setattr(parquet_module, "write_part", failing)
    store.threads = 1
    with pytest.raises(OSError, match="simulated"):
        store.write(changed)
    assert _files(store.root) == before
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]
    pd.testing.assert_frame_equal(store.read("TEST"), bars)
    assert store.coverage("TEST") == (bars["timestamp"].iloc[0], bars["timestamp"].iloc[-1], 3000)


def test_crash_with_parallel_writers_also_cleans_up(store: ParquetBarStore, monkeypatch: pytest.MonkeyPatch) -> None:
    bars = make_bars(3000)
    store.write(bars)
    before = _files(store.root)
    real = parquet_module.write_part

    def failing(table: object, path: Path) -> None:
        real(table, path)  # type: ignore[arg-type]
        if "date=2024-05" in str(path):
            raise OSError("killed (simulated)")

    monkeypatch.setattr(parquet_module, "write_part", failing)
    with pytest.raises(OSError, match="simulated"):
        store.write(make_bars(8000, seed=4))
    assert _files(store.root) == before
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_invalid_bars_are_rejected_before_anything_is_written(store: ParquetBarStore) -> None:
    bars = make_bars(3000)
    store.write(bars.iloc[:1000])
    before = _files(store.root)
    bad = bars.copy()
    bad.loc[2500, "close"] = np.nan
    with pytest.raises(DataValidationError, match="row 2500"):
        store.write(bad)
    with pytest.raises(DataValidationError, match="empty"):
        store.write(bars.iloc[:0])
    assert _files(store.root) == before
    assert store.coverage("TEST") == (bars["timestamp"].iloc[0], bars["timestamp"].iloc[999], 1000)


def test_file_table_is_the_table_from_pandas_gives_metadata_included() -> None:
    """The files keep their bytes: the warning-free conversion equals pyarrow's own, whose pandas
    deprecation (Series.values on a tz-aware column) is silenced here only to compare with it."""
    bars = in_store_form(make_bars(3000))
    for frame in (bars, bars.iloc[7:20], bars.iloc[:0]):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", r"Series\.values returning an ndarray", DeprecationWarning)
            expected = pa.Table.from_pandas(
                frame[list(parquet_module.FILE_COLUMNS)], schema=parquet_module.FILE_SCHEMA, preserve_index=False
            )
        got = parquet_module.file_table(frame)
        assert got.equals(expected, check_metadata=True)
        assert got.column("vwap").null_count == frame["vwap"].isna().sum()


def test_writes_and_upserts_raise_no_warning(store: ParquetBarStore) -> None:
    bars = make_bars(3000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.write(bars.iloc[:2000])
        store.write(bars.iloc[1500:])  # merges into existing months
        store.read("TEST")
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []

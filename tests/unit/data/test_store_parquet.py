"""ParquetBarStore: round trip, idempotent upsert, range reads, crash safety, validation first, the sweep
of stray temporaries, quarantine of damaged months, and stores that are never created by accident."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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
    """Hash of every stored file; lock files (empty, kept after release by design) are not data."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != "_locks"
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


# ------------------------------------------------------------------ locks, sweep, quarantine, create


def _month_file(store: ParquetBarStore, symbol: str, month: str) -> Path:
    return store.month_dir(symbol, month) / parquet_module.PART


def test_the_next_write_to_a_month_sweeps_its_stray_temporaries_only(store: ParquetBarStore) -> None:
    bars = make_bars(3000)  # 2024-02 .. 2024-04
    store.write(bars)
    strays = {
        month: store.month_dir("TEST", month) / f".part.parquet.{month}dead.tmp" for month in ("2024-03", "2024-04")
    }
    for path in strays.values():
        path.write_bytes(b"half a file of a killed import")
    pd.testing.assert_frame_equal(store.read("TEST"), bars)  # readers ignore them
    changed = bars[bars["timestamp"].dt.month == 3].copy()
    changed["volume"] += 1.0
    store.write(changed)
    assert not strays["2024-03"].exists()
    assert strays["2024-04"].exists()  # no write to April yet: not touched
    store.write(bars.iloc[-5:])  # an unchanged re-write of April still sweeps it (under its lock)
    assert not strays["2024-04"].exists()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) // 2], "not a readable Parquet file"),
        (lambda data: b"timestamp,open\n", "not a readable Parquet file"),
        (lambda data: b"", "not a readable Parquet file"),
    ],
    ids=["truncated", "csv", "empty"],
)
def test_a_damaged_month_is_quarantined_on_read_and_the_rest_keeps_working(
    store: ParquetBarStore, damage: object, reason: str
) -> None:
    bars, other = make_bars(3000), make_bars(500, "OTHER", seed=3)
    store.write(pd.concat([bars, other], ignore_index=True))
    path = _month_file(store, "TEST", "2024-03")
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(parquet_module.CorruptPartError) as caught:
        store.read("TEST")
    message = str(caught.value)
    assert str(path) in message and reason in message and "re-import" in message and "2024-03" in message
    assert not path.exists()
    moved = list((store.root / "_quarantine" / "symbol=TEST" / "date=2024-03").glob("*.part.parquet"))
    assert len(moved) == 1 and json.loads(moved[0].with_name(moved[0].name + ".json").read_text())["month"] == "2024-03"
    pd.testing.assert_frame_equal(store.read("OTHER"), other)  # other symbols never noticed
    left = bars[bars["timestamp"].dt.month != 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(store.read("TEST"), left)  # the symbol's other months still read
    assert store.coverage("TEST") == (left["timestamp"].iloc[0], left["timestamp"].iloc[-1], len(left))
    [record] = store.journal.records()
    assert record.state() == "quarantined" and record.symbols == ("TEST",)
    store.write(bars)  # the fix the message asks for: re-import the month
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_coverage_quarantines_a_file_that_is_not_parquet(store: ParquetBarStore) -> None:
    store.write(make_bars(3000))
    _month_file(store, "TEST", "2024-04").write_text("oops")
    with pytest.raises(parquet_module.CorruptPartError, match=r"date=2024-04.*not a readable Parquet file"):
        store.coverage("TEST")
    assert store.coverage("TEST") is not None


def test_a_file_with_other_columns_is_quarantined(store: ParquetBarStore) -> None:
    bars = make_bars(3000)
    store.write(bars)
    pq.write_table(pa.table({"x": [1.0, 2.0]}), _month_file(store, "TEST", "2024-02"))
    with pytest.raises(parquet_module.CorruptPartError, match=r"wrong columns: found \(x double\)"):
        store.read("TEST")


def test_a_write_into_a_damaged_month_quarantines_it_and_writes_the_new_bars(store: ParquetBarStore) -> None:
    from tradebrain.data.store.journal import begin_import

    bars = make_bars(3000)
    store.write(bars)
    _month_file(store, "TEST", "2024-03").write_bytes(b"PAR1 truncated")
    march = bars[bars["timestamp"].dt.month == 3]
    with pytest.warns(parquet_module.QuarantineWarning, match=r"date=2024-03.*re-import them"):
        store.write(march.iloc[:100])
    assert len(store.read("TEST", "2024-03-01 00:00Z", "2024-04-01 00:00Z")) == 100
    assert [record.state() for record in store.journal.records()] == ["quarantined"]
    redo = begin_import("/data/test.csv", march)  # a complete re-import of that month heals it
    store.write(march)
    assert store.journal.complete(redo) != [] and store.journal.records() == []
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_only_create_makes_a_missing_store_and_a_file_is_not_a_store(tmp_path: Path) -> None:
    from tradebrain.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"store .*missing does not exist; check the --store path"):
        ParquetBarStore(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()
    (tmp_path / "file").write_text("x")
    for create in (True, False):
        with pytest.raises(ConfigError, match=r"is a file, not a folder"):
            ParquetBarStore(tmp_path / "file", create=create)
    with pytest.raises(ConfigError, match=r"part of that path is a file"):
        ParquetBarStore(tmp_path / "file" / "store")
    assert ParquetBarStore(tmp_path / "new" / "store").root.is_dir()


def test_delete_waits_for_the_month_locks(store: ParquetBarStore) -> None:
    from tradebrain.core.errors import TradebrainError
    from tradebrain.data.store.lock import try_hold

    store.write(make_bars(3000))
    held = try_hold(store.lock_path("TEST", "2024-03"))
    assert held is not None
    try:
        store.lock_timeout = 0.2
        with pytest.raises(TradebrainError, match=r"could not lock .*date=2024-03\.lock"):
            store.delete("TEST")
        assert store.coverage("TEST") is not None
    finally:
        held.release()
    assert store.delete("TEST") == 3000 and store.symbols() == []


def test_a_month_that_vanishes_during_a_read_is_planned_again(
    store: ParquetBarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file listed and then deleted or quarantined by another process before it is opened: the
    read lists the months again instead of failing."""
    bars = make_bars(3000)
    store.write(bars)
    real, calls = store.months, {"n": 0}

    def stale(symbol: str) -> list[tuple[str, Path]]:
        calls["n"] += 1
        gone = ("2024-05", store.month_dir(symbol, "2024-05") / parquet_module.PART)
        return [*real(symbol), gone] if calls["n"] % 2 else real(symbol)

    monkeypatch.setattr(store, "months", stale)
    pd.testing.assert_frame_equal(store.read("TEST"), bars)
    assert store.coverage("TEST") == (bars["timestamp"].iloc[0], bars["timestamp"].iloc[-1], 3000)
    assert calls["n"] == 4

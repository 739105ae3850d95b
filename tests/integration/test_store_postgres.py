"""PostgresBarStore against the machine's PostgreSQL: round trip, idempotent upsert, ranges, and a
crash inside the write transaction that leaves the old data. Each test uses its own table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import psycopg
import pytest

from tradebrain.data.schema import BAR_COLUMNS, DataValidationError
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import BarStore, PostgresBarStore
from tradebrain.data.store import postgres as postgres_module

pytestmark = pytest.mark.integration


def make_bars(n: int, symbol: str = "TEST", start: str = "2024-03-01 22:00", seed: int = 0) -> pd.DataFrame:
    """`n` validated bars of `symbol` every min from `start` (UTC); every 7th vwap is NaN."""
    return random_walk_bars(n, symbol, start, freq="min", seed=seed)


@pytest.fixture
def store(postgres_dsn: str) -> Iterator[PostgresBarStore]:
    created = PostgresBarStore(postgres_dsn, table=f"bars_test_{uuid.uuid4().hex[:12]}")
    try:
        yield created
    finally:
        created.drop()


def _table_state(store: PostgresBarStore) -> list[tuple[object, ...]]:
    with psycopg.connect(store.dsn) as connection:
        query = psycopg.sql.SQL("SELECT xmin::text, * FROM {} ORDER BY symbol, ts").format(
            psycopg.sql.Identifier(store.table)
        )
        return list(connection.execute(query).fetchall())


def test_round_trip_is_unchanged_including_nan_vwap(store: PostgresBarStore) -> None:
    assert isinstance(store, BarStore)
    bars = make_bars(3000)
    assert store.write(bars) == 3000
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_reingest_changes_no_row(store: PostgresBarStore) -> None:
    bars = make_bars(500)
    store.write(bars)
    before = _table_state(store)  # xmin changes whenever a row is rewritten
    store.write(bars)
    assert _table_state(store) == before
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_upsert_replaces_values_and_adds_new_rows(store: PostgresBarStore) -> None:
    bars = make_bars(1000)
    store.write(bars.iloc[:600])
    changed = bars.iloc[400:].copy()
    changed[["open", "high", "low", "close"]] *= 2.0
    changed["vwap"] = np.nan
    store.write(changed)
    expected = pd.concat([bars.iloc[:400], changed], ignore_index=True)
    pd.testing.assert_frame_equal(store.read("TEST"), expected)


def test_ranges_symbols_coverage_and_delete(store: PostgresBarStore) -> None:
    spy, odd = make_bars(300, "SPY"), make_bars(20, 'weird "name"', seed=1)
    store.write(pd.concat([spy, odd], ignore_index=True))
    assert store.symbols() == ["SPY", 'weird "name"']
    start, end = spy["timestamp"].iloc[50], spy["timestamp"].iloc[250]
    pd.testing.assert_frame_equal(store.read("SPY", start, end), spy.iloc[50:250].reset_index(drop=True))
    assert store.coverage("SPY") == (spy["timestamp"].iloc[0], spy["timestamp"].iloc[-1], 300)
    empty = store.read("NOPE")
    assert empty.empty and tuple(empty.columns) == BAR_COLUMNS
    assert store.coverage("NOPE") is None
    assert store.delete("SPY") == 300
    assert store.symbols() == ['weird "name"']


def test_crash_inside_the_transaction_leaves_the_old_data(
    store: PostgresBarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars = make_bars(1000)
    store.write(bars)
    real = postgres_module.copy_payload

    def crashing(frame: pd.DataFrame) -> Iterator[bytes]:
        chunks = real(frame)
        yield next(chunks)
        yield next(chunks)
        raise OSError("connection lost (simulated)")

    monkeypatch.setattr(postgres_module, "copy_payload", crashing)
    changed = make_bars(2000, seed=5)
    with pytest.raises(OSError, match="simulated"):
        store.write(changed)
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_invalid_bars_write_nothing(store: PostgresBarStore) -> None:
    bars = make_bars(100)
    store.write(bars.iloc[:50])
    bad = bars.copy()
    bad.loc[80, "high"] = bad.loc[80, "low"] / 2
    with pytest.raises(DataValidationError, match="row 80"):
        store.write(bad)
    assert store.coverage("TEST") == (bars["timestamp"].iloc[0], bars["timestamp"].iloc[49], 50)


def test_table_names_are_quoted_safely(postgres_dsn: str) -> None:
    created = PostgresBarStore(postgres_dsn, table=f"bars; drop table x {uuid.uuid4().hex[:8]}")
    try:
        created.write(make_bars(10))
        assert created.coverage("TEST") is not None
    finally:
        created.drop()

"""The real samples in ../shared/data import, validate and round-trip through both stores unchanged."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tradebrain.data.sources.files import read_bars_csv
from tradebrain.data.store.parquet import ParquetBarStore
from tradebrain.data.store.postgres import PostgresBarStore

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLES = {
    "index-future-1min-2006.csv": ("FDAX1M", 30_889),
    "index-future-5min-2006.csv": ("FDAX5M", 2_142),
    "nvda-daily-1999-2014.csv": ("NVDA", 4_012),
}
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data (the real samples) is not beside the repo")


def _sample(name: str) -> pd.DataFrame:
    symbol, rows = SAMPLES[name]
    with warnings.catch_warnings():  # the 1-minute file's short header is mapped with a warning
        warnings.simplefilter("ignore", UserWarning)
        bars = read_bars_csv(DATA / name, symbol)
    assert len(bars) == rows
    return bars


@pytest.fixture
def postgres(postgres_dsn: str) -> Iterator[PostgresBarStore]:
    store = PostgresBarStore(postgres_dsn, table=f"bars_samples_{uuid.uuid4().hex[:8]}")
    yield store
    store.drop()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_parquet_round_trip(name: str, tmp_path: Path) -> None:
    bars = _sample(name)
    store = ParquetBarStore(tmp_path / "store")
    store.write(bars)
    pd.testing.assert_frame_equal(store.read(SAMPLES[name][0]), bars)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_postgres_round_trip(name: str, postgres: PostgresBarStore) -> None:
    bars = _sample(name)
    postgres.write(bars)
    pd.testing.assert_frame_equal(postgres.read(SAMPLES[name][0]), bars)

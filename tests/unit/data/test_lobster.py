"""LOBSTER message + order-book files as an order-book snapshot series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradebrain.data.schema import DataValidationError
from tradebrain.data.sources.files import read_lobster

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
MESSAGES = DATA / "lobster-aapl-2012-06-21-message-10.csv"
BOOK = DATA / "lobster-aapl-2012-06-21-orderbook-10.csv"
needs_data = pytest.mark.skipif(not MESSAGES.is_file(), reason=f"LOBSTER sample not found at {DATA}")


@needs_data
def test_sample_loads_as_snapshots_in_usd() -> None:
    book = read_lobster(MESSAGES, BOOK, date="2012-06-21", symbol="AAPL")
    # 999 rows: `wc -l` says 998 because the last line has no newline
    assert len(book) == 999
    assert book.shape[1] == 7 + 4 * 10
    assert book["timestamp"].iloc[0].tz_convert("America/New_York") == pd.Timestamp(
        "2012-06-21 09:30:00.004241176", tz="America/New_York"
    )
    assert book["timestamp"].is_monotonic_increasing
    raw = np.loadtxt(BOOK, delimiter=",", max_rows=1)
    assert book["ask_price_1"].iloc[0] == pytest.approx(raw[0] / 10_000) == pytest.approx(585.94)
    assert book["bid_price_1"].iloc[0] == pytest.approx(585.33)
    assert book["ask_size_1"].iloc[0] == 200
    assert (book["ask_price_1"] > book["bid_price_1"]).all()
    assert not book.isna().any().any()
    first = book.iloc[0]
    assert (first["event_type"], first["order_id"], first["size"], first["direction"]) == (1, 16113575, 18, 1)
    assert first["price"] == pytest.approx(585.33)


@needs_data
def test_levels_limit_columns() -> None:
    book = read_lobster(MESSAGES, BOOK, levels=2, date="2012-06-21", symbol="AAPL")
    assert list(book.columns[-8:]) == [
        "ask_price_1", "ask_size_1", "bid_price_1", "bid_size_1",
        "ask_price_2", "ask_size_2", "bid_price_2", "bid_size_2",
    ]  # fmt: skip
    with pytest.raises(DataValidationError, match="levels=11"):
        read_lobster(MESSAGES, BOOK, levels=11, date="2012-06-21", symbol="AAPL")


def test_empty_levels_become_nan_and_crossed_books_fail(tmp_path: Path) -> None:
    messages = tmp_path / "m.csv"
    book = tmp_path / "b.csv"
    messages.write_text("34200.5,1,1,100,1000000,1\n34201.0,1,2,100,990000,-1\n")
    book.write_text("1010000,100,1000000,100\n9999999999,0,990000,100\n")
    snapshots = read_lobster(messages, book, date="2024-07-01", symbol="X")
    assert np.isnan(snapshots["ask_price_1"].iloc[1]) and snapshots["ask_size_1"].iloc[1] == 0
    assert snapshots["bid_price_1"].iloc[1] == 99.0
    assert snapshots["timestamp"].iloc[0] == pd.Timestamp("2024-07-01 13:30:00.5", tz="UTC")
    book.write_text("1010000,100,1000000,100\n990000,100,990000,100\n")
    with pytest.raises(DataValidationError, match=r"b.csv: row 1 .*ask_price_1 is not above bid_price_1"):
        read_lobster(messages, book, date="2024-07-01", symbol="X")
    book.write_text("1010000,100,1000000,100\n")
    with pytest.raises(DataValidationError, match=r"has 2 rows but .* has 1"):
        read_lobster(messages, book, date="2024-07-01", symbol="X")

"""CSV and Parquet import: the real samples in ../shared/data, and bad files with clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from tradebrain.data.schema import BAR_COLUMNS, DataValidationError
from tradebrain.data.sources.files import read_bars_csv, read_bars_parquet

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"real samples not found at {DATA}")

GOOD = "Date,Time,Open,High,Low,Close,Volume\n"


def _write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@needs_data
def test_one_minute_sample_maps_the_short_header_with_a_warning() -> None:
    with pytest.warns(UserWarning, match=r"header names 7 columns .* rows have 8 fields"):
        bars = read_bars_csv(DATA / "index-future-1min-2006.csv", "FUT")
    assert len(bars) == 30_889
    assert list(bars.columns) == list(BAR_COLUMNS)
    first = bars.iloc[0]
    assert first["timestamp"] == pd.Timestamp("2006-01-02 09:01", tz="UTC")
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        3602.0,
        3603.0,
        3597.0,
        3599.0,
        5699.0,
    )
    assert bars["timestamp"].iloc[-1] == pd.Timestamp("2006-02-27 22:00", tz="UTC")
    assert bars["timestamp"].dt.date.nunique() == 41


@needs_data
def test_one_minute_sample_with_explicit_names_and_exchange_time_zone() -> None:
    names = ["Date", "Time", "Open", "High", "Low", "Close", "Volume", "OpenInterest"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bars = read_bars_csv(DATA / "index-future-1min-2006.csv", "FUT", names=names, tz="Europe/Berlin")
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2006-01-02 08:01", tz="UTC")


@needs_data
def test_five_minute_and_daily_samples() -> None:
    five = read_bars_csv(DATA / "index-future-5min-2006.csv", "FUT5")
    assert len(five) == 2_142
    assert (five["timestamp"].diff().dropna() >= pd.Timedelta(minutes=5)).all()
    assert (five["volume"] == 0).all()
    daily = read_bars_csv(DATA / "nvda-daily-1999-2014.csv", "NVDA", tz="America/New_York")
    assert len(daily) == 4_012
    assert daily["timestamp"].iloc[0] == pd.Timestamp("1999-01-22 05:00", tz="UTC")
    assert daily["close"].iloc[0] == 1.640625  # Close, not Adj Close


def test_split_date_time_explicit_mapping_and_local_time(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "d,t,po,ph,pl,pc,q\n2024-07-01,09:30,10,11,9,10.5,100\n2024-07-01,09:31,10.5,10.6,10.4,10.4,50\n",
    )
    mapping = {"po": "open", "ph": "high", "pl": "low", "pc": "close", "q": "volume"}
    bars = read_bars_csv(path, "X", columns=mapping, date_time=("d", "t"), tz="America/New_York")
    assert bars["timestamp"].tolist() == [
        pd.Timestamp("2024-07-01 13:30", tz="UTC"),
        pd.Timestamp("2024-07-01 13:31", tz="UTC"),
    ]


def test_parquet_round_trip_with_datetime_index(tmp_path: Path) -> None:
    index = pd.date_range("2024-01-02 14:30", periods=3, freq="1min", tz="UTC", name="ts")
    frame = pd.DataFrame(
        {"Open": [1.0, 2, 3], "High": [2.0, 3, 4], "Low": [0.5, 1, 2], "Close": [1.5, 2.5, 3.5], "Volume": [1, 2, 3]},
        index=index,
    )
    frame.to_parquet(tmp_path / "bars.parquet")
    bars = read_bars_parquet(tmp_path / "bars.parquet", symbol="P")
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert bars["timestamp"].tolist() == list(index)
    with pytest.raises(DataValidationError, match="symbol"):
        read_bars_parquet(tmp_path / "bars.parquet")


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("2024-01-02,09:30,10,11,9,,5\n", r"row 0 \(.*close is NaN.*fix or drop the row.*line N \+ 2"),
        ("2024-01-02,09:30,10,11,9,10,5\n2024-01-02,09:31,10,9,11,10,5\n", r"row 1 .*high is below open or close"),
        ("2024-01-02,09:31,10,11,9,10,5\n2024-01-02,09:30,10,11,9,10,5\n", r"row 1 .*not after.*repair=True"),
        ("2024-01-02,09:30,10,11,9,10,5\n2024-01-02,09:30,10,11,9,10,5\n", r"row 1 .*repeats.*repair=True"),
        ("2024-01-02,soon,10,11,9,10,5\n", r"row 0 \(line 2\): Date \+ Time '2024-01-02 soon' is missing or not"),
    ],
    ids=["nan-price", "high-below-low", "unsorted", "duplicated", "bad-time"],
)
def test_bad_rows_name_file_row_field_and_fix(tmp_path: Path, body: str, pattern: str) -> None:
    path = _write(tmp_path, GOOD + body)
    with pytest.raises(DataValidationError, match=pattern) as caught:
        read_bars_csv(path, "X")
    assert str(path) in str(caught.value)


def test_repair_sorts_and_drops_exact_duplicates(tmp_path: Path) -> None:
    rows = "2024-01-02,09:31,10,11,9,10,5\n2024-01-02,09:30,10,11,9,10,5\n2024-01-02,09:30,10,11,9,10,5\n"
    path = _write(tmp_path, GOOD + rows)
    with pytest.warns(UserWarning, match="dropped 1 exact duplicate"):
        bars = read_bars_csv(path, "X", repair=True)
    assert bars["timestamp"].dt.minute.tolist() == [30, 31]


def test_wrong_columns_empty_and_mismatched_header(tmp_path: Path) -> None:
    wrong = _write(tmp_path, "when,price,size\n2024-01-02,10,5\n", "wrong.csv")
    with pytest.raises(DataValidationError, match=r"wrong.csv: cannot find columns for .*pass columns=") as caught:
        read_bars_csv(wrong, "X")
    assert "'when'" in str(caught.value)
    with pytest.raises(DataValidationError, match=r"empty.csv: the file is empty"):
        read_bars_csv(_write(tmp_path, "", "empty.csv"), "X")
    with pytest.raises(DataValidationError, match=r"header.csv: the file has a header .* but no data rows"):
        read_bars_csv(_write(tmp_path, GOOD, "header.csv"), "X")
    odd = _write(tmp_path, "Date,Open,High\n2024-01-02,1,2,3,4,5\n", "odd.csv")
    with pytest.raises(DataValidationError, match=r"odd.csv: the header names 3 columns .* pass names=\[\.\.\.\]"):
        read_bars_csv(odd, "X")
    with pytest.raises(DataValidationError, match=r"column 'Opn' is not in the file.*did you mean 'Open'"):
        read_bars_csv(
            _write(tmp_path, GOOD + "2024-01-02,09:30,10,11,9,10,5\n", "ok.csv"), "X", columns={"Opn": "open"}
        )
    with pytest.raises(DataValidationError, match=r"no such file"):
        read_bars_csv(tmp_path / "missing.csv", "X")


def test_dst_gap_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "2024-03-10,02:30,10,11,9,10,5\n")
    with pytest.raises(DataValidationError, match=r"DST gap or overlap"):
        read_bars_csv(path, "X", tz="America/New_York")

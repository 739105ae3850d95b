"""CSV and Parquet import: the real samples in ../shared/data, and bad files with clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradebrain.data.schema import BAR_COLUMNS, DataValidationError
from tradebrain.data.sources.files import read_bars_csv, read_bars_parquet, read_lobster

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


# --- stricter input: encodings, delimiters, ragged rows, epoch times, time zones, non-numbers ---------------------

ROWS = "".join(f"2024-01-02,09:3{minute},10,11,9,10,5\n" for minute in range(6))


def _write_bytes(tmp_path: Path, data: bytes, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_latin1_file_names_the_byte_line_and_the_encoding_flag(tmp_path: Path) -> None:
    text = (
        GOOD.replace("Volume", "Volume,Note") + ROWS.replace("5\n", "5,ok\n") + "2024-01-02,09:39,10,11,9,10,5,café\n"
    )
    path = _write_bytes(tmp_path, text.encode("latin-1"), "latin.csv")
    offset = text.encode("latin-1").index(b"\xe9")
    with pytest.raises(DataValidationError, match=rf"latin.csv: byte {offset} \(line 8\) is not valid utf-8") as caught:
        read_bars_csv(path, "X")
    assert "pass --encoding (e.g. latin-1 or utf-16) matching the file" in str(caught.value)
    bars = read_bars_csv(path, "X", encoding="latin-1")
    assert len(bars) == 7 and bars["timestamp"].iloc[-1] == pd.Timestamp("2024-01-02 09:39", tz="UTC")


def test_utf16_files_are_recognised_and_read_with_their_encoding(tmp_path: Path) -> None:
    expected = read_bars_csv(_write(tmp_path, GOOD + ROWS, "plain.csv"), "X")
    with_bom = _write_bytes(tmp_path, (GOOD + ROWS).encode("utf-16"), "bom.csv")
    with pytest.raises(DataValidationError, match=r"bom.csv: byte 0 \(line 1\).*UTF-16 byte-order mark.*--encoding"):
        read_bars_csv(with_bom, "X")
    pd.testing.assert_frame_equal(read_bars_csv(with_bom, "X", encoding="utf-16"), expected)
    without_bom = _write_bytes(tmp_path, (GOOD + ROWS).encode("utf-16-le"), "le.csv")
    for encoding in ("utf-8", "latin-1"):  # both decode the bytes, into a header full of NULs
        with pytest.raises(DataValidationError, match=rf"le.csv: .*NUL characters.*utf-16 read as {encoding}"):
            read_bars_csv(without_bom, "X", encoding=encoding)
    pd.testing.assert_frame_equal(read_bars_csv(without_bom, "X", encoding="utf-16-le"), expected)
    utf8_bom = _write_bytes(tmp_path, (GOOD + ROWS).encode("utf-8-sig"), "utf8bom.csv")
    pd.testing.assert_frame_equal(read_bars_csv(utf8_bom, "X"), expected)  # the BOM does not stick to "Date"
    with pytest.raises(DataValidationError, match=r"unknown encoding 'utf9'; pass --encoding"):
        read_bars_csv(with_bom, "X", encoding="utf9")


def test_a_ragged_row_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + ROWS + "2024-01-02,09:40,10,11,9,10,5,7\n" + ROWS.replace("09:3", "09:5"), "r.csv")
    with pytest.raises(
        DataValidationError, match=r"r.csv: line 8 has 8 fields but the rows before it have 7; fix"
    ) as c:
        read_bars_csv(path, "X")
    assert "--delimiter" in str(c.value)
    quote = _write(tmp_path, GOOD + ROWS + '2024-01-02,09:40,"10,11,9,10,5\n' + ROWS.replace("09:3", "09:5"), "q.csv")
    with pytest.raises(DataValidationError, match=r'q.csv: line 8 opens a "quote" that never closes'):
        read_bars_csv(quote, "X")
    runaway = _write(tmp_path, GOOD + '2024-01-02,09:30,"' + "x" * 200_000 + "\n", "runaway.csv")
    with pytest.raises(DataValidationError, match=r"runaway.csv: line 2: field larger than field limit"):
        read_bars_csv(runaway, "X")


@pytest.mark.parametrize(
    ("separator", "flag", "given"),
    [(";", "';'", ";"), ("\t", "tab", "tab"), ("\t", "tab", "\\t"), ("|", "'|'", "|")],
    ids=["semicolon", "tab-word", "tab-escape", "pipe"],
)
def test_other_delimiters_are_detected_and_read(tmp_path: Path, separator: str, flag: str, given: str) -> None:
    path = _write(tmp_path, (GOOD + ROWS).replace(",", separator), "sep.csv")
    header = GOOD.strip().replace(",", separator)
    with pytest.raises(DataValidationError, match=r"sep.csv: found one column") as caught:
        read_bars_csv(path, "X")
    assert repr(header) in str(caught.value) and f"pass --delimiter {flag}" in str(caught.value)
    bars = read_bars_csv(path, "X", delimiter=given)
    assert len(bars) == 6 and bars["close"].tolist() == [10.0] * 6
    with pytest.raises(DataValidationError, match=r"delimiter ';;' \(--delimiter\) must be one character"):
        read_bars_csv(path, "X", delimiter=";;")


def test_mixed_utc_offsets_convert_and_a_naive_row_among_them_is_named(tmp_path: Path) -> None:
    head = "timestamp,open,high,low,close,volume\n"
    path = _write(tmp_path, head + "2024-03-08 09:30-05:00,10,11,9,10,5\n2024-03-11 09:30-04:00,10,11,9,10,5\n")
    bars = read_bars_csv(path, "X", tz="America/New_York")
    assert bars["timestamp"].tolist() == [
        pd.Timestamp("2024-03-08 14:30", tz="UTC"),
        pd.Timestamp("2024-03-11 13:30", tz="UTC"),
    ]
    rows = "2024-03-08 09:30-05:00,10,11,9,10,5\n2024-03-08 09:31-05:00,10,11,9,10,5\n2024-03-11 09:30,10,11,9,10,5\n"
    mixed = _write(tmp_path, head + rows, "mixed.csv")
    with pytest.raises(DataValidationError, match=r"mixed.csv: row 2 \(line 4\): timestamp '2024-03-11 09:30' has no"):
        read_bars_csv(mixed, "X")


EPOCH_HEAD = "timestamp,open,high,low,close,volume\n"


@pytest.mark.parametrize(
    ("first", "second", "unit"),
    [
        ("1709303400", "1709303460", "s"),
        ("1709303400000", "1709303460000", "ms"),
        ("1709303400.0", "1709303460.5", "s"),
    ],
    ids=["seconds", "milliseconds", "float-seconds"],
)
def test_epoch_timestamps_need_an_explicit_unit(tmp_path: Path, first: str, second: str, unit: str) -> None:
    path = _write(tmp_path, EPOCH_HEAD + f"{first},10,11,9,10,5\n{second},10,11,9,10,5\n", "epoch.csv")
    with pytest.raises(DataValidationError, match=r"epoch.csv: column 'timestamp' holds numbers") as caught:
        read_bars_csv(path, "X")
    assert f"timestamp_unit={unit!r}" in str(caught.value) and f"--timestamp-unit {unit}" in str(caught.value)
    bars = read_bars_csv(path, "X", timestamp_unit=unit)  # type: ignore[arg-type]
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    assert pd.Timestamp("2024-03-01 14:31", tz="UTC") <= bars["timestamp"].iloc[1] < pd.Timestamp("2024-03-01 14:32Z")


def test_timestamp_unit_misuse_is_a_clear_error(tmp_path: Path) -> None:
    epoch = _write(tmp_path, EPOCH_HEAD + "1709303400,10,11,9,10,5\n", "epoch.csv")
    with pytest.raises(DataValidationError, match=r"timestamp_unit 'sec' \(--timestamp-unit\) is not one of"):
        read_bars_csv(epoch, "X", timestamp_unit="sec")  # type: ignore[arg-type]
    gap = _write(tmp_path, EPOCH_HEAD + "1709303400,10,11,9,10,5\n,10,11,9,10,5\n", "gap.csv")
    with pytest.raises(DataValidationError, match=r"gap.csv: row 1 \(line 3\): timestamp is missing; fix or drop"):
        read_bars_csv(gap, "X", timestamp_unit="s")
    text = _write(tmp_path, EPOCH_HEAD + "2024-01-02,10,11,9,10,5\n", "text.csv")
    with pytest.raises(DataValidationError, match=r"row 0 \(line 2\): timestamp '2024-01-02' is not an epoch number"):
        read_bars_csv(text, "X", timestamp_unit="s")
    split = _write(tmp_path, GOOD + ROWS, "split.csv")
    with pytest.raises(DataValidationError, match=r"not to separate date and time columns 'Date' \+ 'Time'"):
        read_bars_csv(split, "X", timestamp_unit="s")
    huge = _write(tmp_path, EPOCH_HEAD + "1709303400000000,10,11,9,10,5\n", "huge.csv")
    with pytest.raises(
        DataValidationError, match=r"huge.csv: row 0 .*is out of range as an epoch time in unit 's'.*'us'"
    ):
        read_bars_csv(huge, "X", timestamp_unit="s")


def test_integer_dates_in_yyyymmdd_form_are_dates(tmp_path: Path) -> None:
    path = _write(tmp_path, "Date,Open,High,Low,Close,Volume\n20240102,10,11,9,10,5\n20240103,10,11,9,10,5\n")
    bars = read_bars_csv(path, "X", tz="America/New_York")
    assert bars["timestamp"].tolist() == [pd.Timestamp("2024-01-02 05:00Z"), pd.Timestamp("2024-01-03 05:00Z")]


def test_parquet_epoch_seconds_need_their_unit_and_booleans_are_not_volume(tmp_path: Path) -> None:
    seconds = np.array([1709303400, 1709303460, 1709303520], dtype="int64")
    frame = pd.DataFrame({"timestamp": seconds, "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.0, "volume": 5.0})
    frame.to_parquet(tmp_path / "epoch.parquet")
    with pytest.raises(DataValidationError, match=r"epoch.parquet: column 'timestamp' holds numbers .*1970") as c:
        read_bars_parquet(tmp_path / "epoch.parquet", "X")
    assert "timestamp_unit='s'" in str(c.value) and "--timestamp-unit s" in str(c.value)
    expected = pd.date_range("2024-03-01 14:30", periods=3, freq="min", tz="UTC")
    bars = read_bars_parquet(tmp_path / "epoch.parquet", "X", timestamp_unit="s")
    assert bars["timestamp"].tolist() == list(expected)
    frame.assign(timestamp=seconds * 1000).to_parquet(tmp_path / "ms.parquet")
    assert read_bars_parquet(tmp_path / "ms.parquet", "X", timestamp_unit="ms")["timestamp"].tolist() == list(expected)
    frame.assign(timestamp=expected, volume=[True, False, True]).to_parquet(tmp_path / "bool.parquet")
    with pytest.raises(DataValidationError, match=r"bool.parquet: volume holds booleans \(dtype bool\), not numbers"):
        read_bars_parquet(tmp_path / "bool.parquet", "X")


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("2024-01-02,09:30,10,11,9,10,true\n2024-01-02,09:31,10,11,9,10,false\n", r"volume holds booleans"),
        ("2024-01-02,09:30,10,11,9,10,5\n2024-01-02,09:31,10,11,9,10,yes\n", r"row 1 .*volume 'yes' is a boolean"),
        ("2024-01-02,09:30,10,11,9,10,5\n3000-01-02,09:31,10,11,9,10,5\n", r"row 1 .*3000-01-02.*in the future"),
        ("0224-01-02,09:30,10,11,9,10,5\n2024-01-02,09:31,10,11,9,10,5\n", r"row 0 .*before 1800-01-01.*typo"),
    ],
    ids=["bool-volume", "yes-volume", "year-3000", "year-0224"],
)
def test_implausible_values_name_file_row_and_field(tmp_path: Path, body: str, pattern: str) -> None:
    path = _write(tmp_path, GOOD + body, "odd.csv")
    with pytest.raises(DataValidationError, match=pattern) as caught:
        read_bars_csv(path, "X")
    assert str(path) in str(caught.value)


# --- LOBSTER files that are not LOBSTER ------------------------------------------------------------------------

BOOK_ROWS = "1010000,100,1000000,100\n1010000,100,1000000,100\n"


@pytest.mark.parametrize(
    ("messages", "book", "pattern"),
    [
        (b"34200.5,1,1,100,1000000,1\n34201.0,1,2,100,990000,-1,9\n", BOOK_ROWS, r"m.csv: line 2 has 7 fields but"),
        (b"34200.5,1,1,100,1000000,1\n34201.0,1,2,100,99\xe90000,-1\n", BOOK_ROWS, r"m.csv: byte 44 \(line 2\) is not"),
        (b"34200.5,1,1,100,1000000,1\n34201.0,1,2,100,abc,-1\n", BOOK_ROWS, r"m.csv: row 1 \(line 2\): a field is"),
        (b"34200.5,1,1,100,1000000,1\n", "1010000,100,1000000\n", r"b.csv: 3 fields per row, not a multiple of 4"),
        (b"34200.5,1,1,100,1000000,1\n34201.0,1,2,100,990000,-1\n", "1,2,3,4\n1,2,3,4,5\n", r"b.csv: line 2 has 5"),
    ],
    ids=["ragged-messages", "latin1-messages", "text-price", "short-book", "ragged-book"],
)
def test_bad_lobster_files_name_the_file_and_line(tmp_path: Path, messages: bytes, book: str, pattern: str) -> None:
    (tmp_path / "m.csv").write_bytes(messages)
    (tmp_path / "b.csv").write_text(book)
    with pytest.raises(DataValidationError, match=pattern):
        read_lobster(tmp_path / "m.csv", tmp_path / "b.csv", date="2024-07-01", symbol="X")

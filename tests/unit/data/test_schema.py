"""validate_bars refuses what is typed wrong or cannot be true: epoch numbers without a unit, booleans
and categories as numbers, naive timestamps mixed with aware ones, bars outside the plausible era."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tradebrain.data.schema import (
    BAR_COLUMNS,
    EARLIEST_TIMESTAMP,
    FUTURE_TOLERANCE,
    MAX_BAR_GAP,
    DataValidationError,
    parse_timestamps,
    validate_bars,
)


def _bars(timestamps: Any, symbol: Any = "X", **columns: Any) -> pd.DataFrame:
    """Flat bars (every price 10) at `timestamps`, with `columns` overriding any column."""
    n = len(timestamps)
    frame = pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": timestamps,
            "open": np.full(n, 10.0),
            "high": np.full(n, 11.0),
            "low": np.full(n, 9.0),
            "close": np.full(n, 10.0),
            "volume": np.full(n, 5.0),
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


STAMPS = pd.date_range("2024-03-01 14:30", periods=3, freq="min", tz="UTC")


@pytest.mark.parametrize(
    "values",
    [np.array([1709303400, 1709303460, 1709303520], dtype="int64"), np.array([1.7093034e9, 1.70930346e9, 1.7093035e9])],
    ids=["int64-seconds", "float-seconds"],
)
def test_numeric_timestamps_are_refused_with_the_unit_hint(values: np.ndarray) -> None:
    with pytest.raises(DataValidationError, match=r"timestamp holds numbers .*unit.*1970") as caught:
        validate_bars(_bars(values))
    assert "timestamp_unit='s'" in str(caught.value) and "--timestamp-unit" in str(caught.value)


def test_boolean_and_duration_timestamps_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"timestamp holds booleans"):
        validate_bars(_bars([True, False, True]))
    with pytest.raises(DataValidationError, match=r"timestamp holds durations"):
        validate_bars(_bars(pd.to_timedelta([1, 2, 3], unit="D")))


def test_mixed_utc_offsets_are_each_converted_to_utc() -> None:
    # one New York session before the 2024 DST change (-05:00) and one after (-04:00)
    text = ["2024-03-08 09:30-05:00", "2024-03-08 09:31-05:00", "2024-03-11 09:30-04:00"]
    bars = validate_bars(_bars(text))
    assert bars["timestamp"].tolist() == [
        pd.Timestamp("2024-03-08 14:30", tz="UTC"),
        pd.Timestamp("2024-03-08 14:31", tz="UTC"),
        pd.Timestamp("2024-03-11 13:30", tz="UTC"),
    ]
    objects = pd.Series(
        [
            pd.Timestamp("2024-03-08 14:30", tz="UTC"),
            pd.Timestamp("2024-03-08 09:31", tz="America/New_York"),
            pd.Timestamp("2024-03-11 09:30", tz="America/New_York"),
        ],
        dtype=object,
    )
    assert validate_bars(_bars(objects))["timestamp"].tolist() == bars["timestamp"].tolist()


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        (
            ["2024-03-08 09:30-05:00", "2024-03-08 09:31-05:00", "2024-03-08 09:32"],
            r"row 2: timestamp '2024-03-08 09:32' has no UTC offset but row 0 '2024-03-08 09:30-05:00' has one",
        ),
        (
            ["2024-03-08 09:30", "2024-03-08 14:31Z", "2024-03-08 09:32"],
            r"row 1: timestamp '2024-03-08 14:31Z' has a UTC offset but row 0 '2024-03-08 09:30' has none",
        ),
        (
            pd.Series([pd.Timestamp("2024-03-08 14:30", tz="UTC"), pd.Timestamp("2024-03-08 14:31")] * 2, dtype=object)[
                :3
            ],
            r"row 1: timestamp Timestamp\('2024-03-08 14:31:00'\) has no UTC offset",
        ),
    ],
    ids=["aware-then-naive", "naive-then-aware", "timestamp-objects"],
)
def test_naive_mixed_with_aware_names_the_first_differing_row(values: Any, pattern: str) -> None:
    with pytest.raises(DataValidationError, match=pattern) as caught:
        validate_bars(_bars(values))
    assert "all offsets or all local times" in str(caught.value)


def test_parse_timestamps_keeps_naive_dates_naive_and_names_file_lines() -> None:
    dates = parse_timestamps(pd.Series(["2024-03-08", "2024-03-11"]))  # "-08" is a day, not an offset
    assert dates.dt.tz is None and dates.tolist() == [pd.Timestamp("2024-03-08"), pd.Timestamp("2024-03-11")]
    with pytest.raises(DataValidationError, match=r"row 1 \(line 3\): Time .* row 0 \(line 2\)"):
        parse_timestamps(pd.Series(["2024-03-08 09:30", "2024-03-08 09:31+01:00"]), "Time", line_offset=2)


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        (np.array([True, False, True]), r"volume holds booleans \(dtype bool\), not numbers; convert"),
        (pd.array([True, False, None], dtype="boolean"), r"volume holds booleans \(dtype boolean\)"),
        (pd.Categorical([5.0, 6.0, 5.0]), r"volume is categorical .*\.astype\(float\)"),
        (["5", "yes", "6"], r"row 1 \(symbol 'X', .*\): volume 'yes' is a boolean, not a number; convert"),
        (pd.Series([5.0, 6.0, True], dtype=object), r"row 2 .*: volume True is a boolean"),
        (["5", "abc", "6"], r"row 1 .*: volume is NaN, infinite or not a number; fix or drop the row"),
        (STAMPS, r"volume holds dates or durations"),
    ],
    ids=["bool", "nullable-boolean", "categorical", "yes-text", "python-bool", "text", "dates"],
)
def test_non_numbers_in_number_columns_are_refused(values: Any, pattern: str) -> None:
    with pytest.raises(DataValidationError, match=pattern):
        validate_bars(_bars(STAMPS, volume=values))


def test_optional_columns_refuse_text_but_keep_explicit_gaps() -> None:
    with pytest.raises(DataValidationError, match=r"row 1 .*: vwap 'n/a\?' is not a number; .*leave the field empty"):
        validate_bars(_bars(STAMPS, vwap=["10.1", "n/a?", "10.2"]))
    with pytest.raises(DataValidationError, match=r"trades holds booleans"):
        validate_bars(_bars(STAMPS, trades=[True, True, False]))
    bars = validate_bars(_bars(STAMPS, vwap=["10.1", "", "nan"], trades=["3", None, "4"]))
    assert bars["vwap"].tolist()[0] == 10.1 and bars["vwap"].isna().tolist() == [False, True, True]
    assert bars["trades"].tolist()[0] == 3.0 and np.isnan(bars["trades"].iloc[1])
    assert list(bars.columns) == list(BAR_COLUMNS)


def test_bars_before_the_earliest_plausible_date_are_refused() -> None:
    first = EARLIEST_TIMESTAMP
    assert len(validate_bars(_bars([first, first + pd.Timedelta(days=1)]))) == 2
    with pytest.raises(DataValidationError, match=r"row 0 .*: timestamp is before 1800-01-01.*typo.*unit") as caught:
        validate_bars(_bars([first - pd.Timedelta(days=1), first]))
    assert "timestamp_unit" in str(caught.value)
    with pytest.raises(DataValidationError, match=r"row 1 .*1024-01-03.*before 1800-01-01"):
        validate_bars(_bars(["2024-01-02 00:00Z", "1024-01-03 00:00Z"]))


def test_bars_from_the_future_are_refused() -> None:
    now = pd.Timestamp.now(tz="UTC").floor("min")
    soon = now + FUTURE_TOLERANCE - pd.Timedelta(hours=1)  # a clock or time-zone skew: accepted
    assert len(validate_bars(_bars([now - pd.Timedelta(minutes=1), soon]))) == 2
    with pytest.raises(DataValidationError, match=r"row 1 .*timestamp is in the future .*time zone.*unit"):
        validate_bars(_bars([now, now + FUTURE_TOLERANCE + pd.Timedelta(hours=1)]))
    with pytest.raises(DataValidationError, match=r"row 1 .*3000-01-03.*in the future.*typo in the year"):
        validate_bars(_bars(["2024-01-02 00:00Z", "3000-01-03 00:00Z"]))


def test_a_century_between_bars_of_a_symbol_is_refused() -> None:
    old = pd.Timestamp("1900-01-02", tz="UTC")
    assert len(validate_bars(_bars([old, old + MAX_BAR_GAP - pd.Timedelta(days=1)]))) == 2
    with pytest.raises(
        DataValidationError, match=r"row 1 .*: timestamp is 100 years after the previous bar .*1900-01-02"
    ):
        validate_bars(_bars([old, old + MAX_BAR_GAP]))
    # the gap is measured within a symbol: interleaved symbols each a century apart
    stamps = [old, old + pd.Timedelta(days=1), pd.Timestamp("2024-01-02", tz="UTC"), old + pd.Timedelta(days=2)]
    with pytest.raises(DataValidationError, match=r"row 2 \(symbol 'A'.*years after the previous bar.*typo"):
        validate_bars(_bars(stamps, symbol=["A", "B", "A", "B"]))

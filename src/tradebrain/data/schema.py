"""The bar schema every source produces and every store keeps, and its validation at the boundary.

A bar table is a pandas DataFrame with the columns of BAR_COLUMNS: `symbol` (str), `timestamp`
(tz-aware, UTC), `open`, `high`, `low`, `close` (float, > 0), `volume` (float, >= 0), and the
optional `vwap` (float, > 0, or NaN when unknown) and `trades` (float count, or NaN). Rows are
sorted by (symbol, timestamp) with no duplicate (symbol, timestamp). Corrupt data is worse than no
data: validation rejects, naming the row and the field and how to fix it, or (with `repair=True`)
sorts and drops exact duplicates with a warning that says how many.

Beyond the types, validation refuses what is typed correctly but cannot be true: a timestamp
before EARLIEST_TIMESTAMP or more than FUTURE_TOLERANCE after now, and a gap of MAX_BAR_GAP or more
between consecutive bars of a symbol. Each is the signature of a bug upstream (a typo in the year,
epoch numbers read in the wrong unit, a wrong time zone), never of real market data.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = ("symbol", "timestamp", *PRICE_COLUMNS, "volume")
OPTIONAL_COLUMNS = ("vwap", "trades")
BAR_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

EARLIEST_TIMESTAMP = pd.Timestamp("1800-01-01", tz="UTC")
"""No bar is older than this. It admits the long histories in common use (Shiller's S&P data from
1871, the Dow averages from the 1880s; the real samples in tests start in 1999, the built-in
datasets in 2009) and catches a typo in the year (0224 for 2024, 1024) or numbers read in a wrong
unit. A module constant: whoever really holds 18th-century prices lowers it."""
FUTURE_TOLERANCE = pd.Timedelta(days=2)
"""How far after the current time a bar may be stamped: market data is history, so a bar from the
future is a bug (a wrong time zone, a typo in the year, epoch numbers in the wrong unit). Two days
leave room for clocks, the widest time-zone offsets (+14h) and daily bars stamped at a session date."""
MAX_BAR_GAP = pd.Timedelta(days=36_524)
"""Consecutive bars of one symbol a century (36,524 days) or more apart: one of the two has a typo
in the year, or the column mixes two units."""
EPOCH_HINT = (
    "epoch numbers need their unit, which the numbers cannot tell (pandas would take them for nanoseconds and put "
    "the bars in 1970): convert them with pd.to_datetime(values, unit='s', utc=True), or read the file with "
    "timestamp_unit='s' (CLI: --timestamp-unit s), using the unit they are in (s, ms, us or ns)"
)
"""The fix for a numeric timestamp column in validate_bars."""

_NUMERIC_COLUMNS = (*PRICE_COLUMNS, "volume", *OPTIONAL_COLUMNS)
_BOOLEAN_WORDS = ("true", "false", "yes", "no")
_MISSING_WORDS = ("", "nan", "none", "null", "na", "n/a")
# A time of day followed by a UTC offset or zone: "09:30-05:00", "09:30:00.5+0000", "09:30Z", "09:30 UTC".
# A time is required before the offset, so the "-08" of a date-only "2024-03-08" does not count.
_OFFSET_SUFFIX = r"(?i):\d{2}(?:\.\d*)?\s*(?:z|[+-]\d{2}(?::?\d{2})?|utc|gmt)\s*$"


class DataValidationError(InputError):
    """Bars that break the schema; the message names the row, the field and the fix."""


def _fail(
    frame: pd.DataFrame,
    mask: np.ndarray | pd.Series,
    field: str,
    problem: str,
    fix: str,
    values: pd.Series | None = None,
) -> None:
    """Raise naming the first row where `mask` is true (and its value, when `values` is given)."""
    bad = np.flatnonzero(np.asarray(mask))
    if len(bad):
        row = frame.iloc[bad[0]]
        where = f"row {bad[0]} (symbol {row['symbol']!r}, timestamp {row['timestamp']})"
        more = f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""
        shown = "" if values is None else f" {values.iloc[bad[0]]!r}"
        raise DataValidationError(f"{where}{more}: {field}{shown} {problem}; {fix}")


def _line(row: int, line_offset: int | None) -> str:
    return "" if line_offset is None else f" (line {row + line_offset})"


def parse_timestamps(
    values: pd.Series,
    field: str = "timestamp",
    *,
    line_offset: int | None = None,
    date_format: str | None = None,
) -> pd.Series:
    """Dates and times in `values` (text, datetime objects or datetime64) as a datetime64 Series.

    Naive when every row is naive; tz-aware when every row carries a UTC offset or zone, where rows
    with different offsets (a file that spans a DST change has two) are each converted with their
    own offset to UTC. A column that mixes naive and aware rows cannot be read either way, so it is
    a DataValidationError naming the first row that differs from the first row (and its file line
    when `line_offset`, the line of row 0, is given). Unparsable values become NaT for the caller
    to report with its own context. `date_format` is passed to pandas (e.g. "mixed").
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values  # already datetime64: the hot path of every in-memory source
    options: dict[str, Any] = {"errors": "coerce", "format": date_format}
    try:
        parsed: pd.Series | None = pd.to_datetime(values, **options)
    except ValueError:  # "Mixed timezones detected": different offsets, or naive mixed with aware
        parsed = None
    if parsed is not None and not parsed.isna().any():
        return parsed  # the common case: one consistent column
    # The rest runs only for a column pandas refused or left with NaT: a time-zone mix, or bad values.
    aware = values.astype(str).str.contains(_OFFSET_SUFFIX, regex=True).fillna(False).to_numpy(dtype=bool)
    utc = pd.to_datetime(values, utc=True, **options)
    readable = utc if date_format is not None else pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    present = np.flatnonzero(readable.notna().to_numpy())
    if len(present) and aware[present].any() and not aware[present].all():
        first = int(present[0])
        row = int(present[np.flatnonzero(aware[present] != aware[first])[0]])
        has, lacks = ("has a UTC offset", "has none") if aware[row] else ("has no UTC offset", "has one")
        raise DataValidationError(
            f"row {row}{_line(row, line_offset)}: {field} {values.iloc[row]!r} {has} but row {first}"
            f"{_line(first, line_offset)} {values.iloc[first]!r} {lacks}; a column must be all offsets or all "
            "local times: write the offset on every row, or on none (then tz= / --tz names their zone)"
        )
    # Every row aware: each converts with its own offset. pandas refuses different offsets, and
    # coerces an object column of Timestamps in several zones to NaT, so parse to UTC.
    all_aware = bool(len(present)) and bool(aware[present].all())
    if all_aware and (parsed is None or int(utc.isna().sum()) < int(parsed.isna().sum())):
        return utc
    if parsed is None:
        raise DataValidationError(
            f"{field} mixes time zones in a way that cannot be read (e.g. row 0{_line(0, line_offset)} "
            f"{values.iloc[0]!r}); write every timestamp with a numeric UTC offset (e.g. 2024-03-08 09:30-05:00), "
            "or every one as local time and pass tz= / --tz"
        )
    return parsed


def _timestamps(stamps: pd.Series) -> pd.Series:
    """The timestamp column parsed to datetime64 (NaT where unparsable); numbers and booleans are refused."""
    dtype = stamps.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise DataValidationError(f"timestamp holds booleans (dtype {dtype}), not dates; map the date column")
    if pd.api.types.is_numeric_dtype(dtype):
        raise DataValidationError(f"timestamp holds numbers (dtype {dtype}), not dates: {EPOCH_HINT}")
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise DataValidationError(f"timestamp holds durations (dtype {dtype}), not dates; add them to a start date")
    try:
        return parse_timestamps(stamps)
    except TypeError as error:  # dtypes pandas will not turn into dates (e.g. periods, intervals)
        raise DataValidationError(
            f"timestamp has dtype {dtype}, not dates ({error}); convert it to datetimes with a time zone"
        ) from error


def _numbers(bars: pd.DataFrame, column: str) -> pd.Series:
    """`column` as float, refusing booleans, categories, dates and (in the optional columns) text."""
    values = bars[column]
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise DataValidationError(
            f"{column} holds booleans (dtype {dtype}), not numbers; convert the column to numbers (e.g. "
            f".astype(float) if 1/0 is meant) or map the right file column to {column!r}"
        )
    if isinstance(dtype, pd.CategoricalDtype):
        raise DataValidationError(
            f"{column} is categorical (dtype category), not numbers; convert it with .astype(float) or map "
            f"the right column to {column!r}"
        )
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataValidationError(
            f"{column} holds dates or durations (dtype {dtype}), not numbers; map the right column"
        )
    if pd.api.types.is_numeric_dtype(dtype):
        return values.astype(float)  # the hot path: a float (or int) column
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    text = values.astype(str).str.strip().str.lower()
    _fail(
        bars,
        text.isin(_BOOLEAN_WORDS).to_numpy(dtype=bool),
        column,
        "is a boolean, not a number",
        f"convert the column to numbers (e.g. 1/0) or map the right file column to {column!r}",
        values,
    )
    if column in OPTIONAL_COLUMNS:  # a NaN is allowed there, so text must not silently become one
        stray = numbers.isna() & values.notna() & ~text.isin(_MISSING_WORDS)
        _fail(bars, stray, column, "is not a number", "fix the row, or leave the field empty when unknown", values)
    return numbers


def validate_bars(frame: pd.DataFrame, repair: bool = False) -> pd.DataFrame:
    """A validated copy of `frame` in the bar schema (columns in BAR_COLUMNS order, optional ones
    filled with NaN), or a DataValidationError. `repair=True` sorts rows and drops exact duplicate
    rows (warning how many); it never invents, moves or averages a price.

    Timestamps must be tz-aware dates (text with offsets is converted row by row to UTC; numbers are
    refused, since their unit is unknown) between EARLIEST_TIMESTAMP and now + FUTURE_TOLERANCE, with
    no gap of MAX_BAR_GAP within a symbol; numeric columns must hold numbers, not booleans,
    categories or text."""
    if frame.empty:
        raise DataValidationError("no bars: the table is empty; check the file, the symbol or the date range")
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataValidationError(
            f"missing columns {missing} (have {list(frame.columns)}); map the file's columns to "
            f"{list(REQUIRED_COLUMNS)}"
        )
    bars = frame.reindex(columns=list(BAR_COLUMNS)).reset_index(drop=True)
    timestamps = _timestamps(bars["timestamp"])
    _fail(bars, timestamps.isna(), "timestamp", "is missing or not a date", "fix or drop the row")
    if timestamps.dt.tz is None:
        raise DataValidationError("timestamp has no time zone; localise it (e.g. tz='America/New_York') first")
    bars["timestamp"] = timestamps = timestamps.dt.tz_convert("UTC")
    bars["symbol"] = bars["symbol"].astype(str)
    _fail(
        bars,
        timestamps < EARLIEST_TIMESTAMP,
        "timestamp",
        f"is before {EARLIEST_TIMESTAMP:%Y-%m-%d}, older than any market data",
        "check the year for a typo, and epoch numbers for their unit (timestamp_unit / --timestamp-unit)",
    )
    latest = pd.Timestamp.now(tz="UTC") + FUTURE_TOLERANCE
    _fail(
        bars,
        timestamps > latest,
        "timestamp",
        f"is in the future (after now + {FUTURE_TOLERANCE.days} days, {latest:%Y-%m-%d %H:%M} UTC)",
        "market data is history, so this is a typo in the year, a wrong time zone (tz= / --tz) or epoch "
        "numbers read in the wrong unit (timestamp_unit / --timestamp-unit)",
    )
    for column in _NUMERIC_COLUMNS:
        bars[column] = _numbers(bars, column)
    for column in (*PRICE_COLUMNS, "volume"):
        values = bars[column].to_numpy()
        _fail(bars, ~np.isfinite(values), column, "is NaN, infinite or not a number", "fix or drop the row")
    for column in PRICE_COLUMNS:
        _fail(bars, bars[column] <= 0, column, "is not positive", "prices must be > 0")
    _fail(bars, bars["volume"] < 0, "volume", "is negative", "volume must be >= 0")
    _fail(bars, bars["high"] < bars[["open", "close"]].max(axis=1), "high", "is below open or close", "fix the bar")
    _fail(bars, bars["low"] > bars[["open", "close"]].min(axis=1), "low", "is above open or close", "fix the bar")
    vwap = bars["vwap"].to_numpy()
    _fail(bars, np.isinf(vwap) | (vwap <= 0), "vwap", "is infinite or not positive", "use NaN when unknown")
    if repair:
        bars = _repaired(bars)
    duplicated = bars.duplicated(["symbol", "timestamp"], keep="first")
    _fail(bars, duplicated, "timestamp", "repeats an earlier bar of the same symbol", "drop duplicates (repair=True)")
    order = bars.groupby("symbol", sort=False)["timestamp"].diff()
    _fail(bars, order <= pd.Timedelta(0), "timestamp", "is not after the previous bar", "sort the rows (repair=True)")
    _fail_century_gap(bars, order)
    return bars


def _fail_century_gap(bars: pd.DataFrame, gaps: pd.Series) -> None:
    """Raise when a bar comes MAX_BAR_GAP or more after the previous bar of its symbol, naming both."""
    bad = np.flatnonzero((gaps >= MAX_BAR_GAP).to_numpy(dtype=bool))
    if len(bad):
        row = int(bad[0])
        previous = bars["timestamp"].iloc[row] - gaps.iloc[row]
        more = f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""
        raise DataValidationError(
            f"row {row} (symbol {bars['symbol'].iloc[row]!r}, timestamp {bars['timestamp'].iloc[row]}){more}: "
            f"timestamp is {gaps.iloc[row].days // 365} years after the previous bar of the symbol ({previous}); "
            "one of the two has a typo in the year, or the column mixes epoch units: fix or drop the row"
        )


def _repaired(bars: pd.DataFrame) -> pd.DataFrame:
    before = len(bars)
    bars = bars.drop_duplicates().sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)
    dropped = before - len(bars)
    if dropped:
        warnings.warn(f"repair: dropped {dropped} exact duplicate rows of {before}", UserWarning, stacklevel=3)
    return bars

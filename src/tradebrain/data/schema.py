"""The bar schema every source produces and every store keeps, and its validation at the boundary.

A bar table is a pandas DataFrame with the columns of BAR_COLUMNS: `symbol` (str), `timestamp`
(tz-aware, UTC), `open`, `high`, `low`, `close` (float, > 0), `volume` (float, >= 0), and the
optional `vwap` (float, > 0, or NaN when unknown) and `trades` (float count, or NaN). Rows are
sorted by (symbol, timestamp) with no duplicate (symbol, timestamp). Corrupt data is worse than no
data: validation rejects, naming the row and the field and how to fix it, or (with `repair=True`)
sorts and drops exact duplicates with a warning that says how many.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = ("symbol", "timestamp", *PRICE_COLUMNS, "volume")
OPTIONAL_COLUMNS = ("vwap", "trades")
BAR_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)


class DataValidationError(InputError):
    """Bars that break the schema; the message names the row, the field and the fix."""


def _fail(frame: pd.DataFrame, mask: np.ndarray | pd.Series, field: str, problem: str, fix: str) -> None:
    bad = np.flatnonzero(np.asarray(mask))
    if len(bad):
        row = frame.iloc[bad[0]]
        where = f"row {bad[0]} (symbol {row['symbol']!r}, timestamp {row['timestamp']})"
        more = f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""
        raise DataValidationError(f"{where}{more}: {field} {problem}; {fix}")


def validate_bars(frame: pd.DataFrame, repair: bool = False) -> pd.DataFrame:
    """A validated copy of `frame` in the bar schema (columns in BAR_COLUMNS order, optional ones
    filled with NaN), or a DataValidationError. `repair=True` sorts rows and drops exact duplicate
    rows (warning how many); it never invents, moves or averages a price."""
    if frame.empty:
        raise DataValidationError("no bars: the table is empty; check the file, the symbol or the date range")
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataValidationError(
            f"missing columns {missing} (have {list(frame.columns)}); map the file's columns to "
            f"{list(REQUIRED_COLUMNS)}"
        )
    bars = frame.reindex(columns=list(BAR_COLUMNS)).reset_index(drop=True)
    timestamps = pd.to_datetime(bars["timestamp"], errors="coerce")
    _fail(bars, timestamps.isna(), "timestamp", "is missing or not a date", "fix or drop the row")
    if timestamps.dt.tz is None:
        raise DataValidationError("timestamp has no time zone; localise it (e.g. tz='America/New_York') first")
    bars["timestamp"] = timestamps.dt.tz_convert("UTC")
    bars["symbol"] = bars["symbol"].astype(str)
    for column in (*PRICE_COLUMNS, "volume", *OPTIONAL_COLUMNS):
        bars[column] = pd.to_numeric(bars[column], errors="coerce").astype(float)
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
    return bars


def _repaired(bars: pd.DataFrame) -> pd.DataFrame:
    before = len(bars)
    bars = bars.drop_duplicates().sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)
    dropped = before - len(bars)
    if dropped:
        warnings.warn(f"repair: dropped {dropped} exact duplicate rows of {before}", UserWarning, stacklevel=3)
    return bars

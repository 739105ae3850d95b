"""The BarStore interface every backend implements, and the helpers they share.

Why: sources are slow, flaky and rate-limited, so bars are fetched once and then served from a
local store. Every backend keeps the bar schema of `tradebrain.data.schema` exactly: what goes in
through `write` (validated first) comes back from `read` unchanged, sorted, in BAR_COLUMNS order,
with UTC timestamps at microsecond resolution (pandas' default; bars never need finer).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.data.schema import BAR_COLUMNS

TIMESTAMP_DTYPE = "datetime64[us, UTC]"
VALUE_COLUMNS = tuple(column for column in BAR_COLUMNS if column not in ("symbol", "timestamp"))


@runtime_checkable
class BarStore(Protocol):
    """Where validated bars live, keyed by (symbol, timestamp).

    `write` validates first (nothing is written when validation fails) and upserts: re-ingesting the
    same bars changes nothing, new values for an existing key replace the old ones, and a crash in
    the middle leaves the old or the new data, never a torn mix.
    """

    def write(self, bars: pd.DataFrame) -> int:
        """Validate `bars` and upsert them; return how many rows were written (validated rows)."""
        ...

    def read(
        self, symbol: str, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None
    ) -> pd.DataFrame:
        """Bars of `symbol` with start <= timestamp < end (open bounds when None), sorted, in the
        schema; an empty frame with the schema columns when there are none."""
        ...

    def symbols(self) -> list[str]:
        """Every symbol with at least one bar, sorted."""
        ...

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
        """(first timestamp, last timestamp, number of bars) of `symbol`, or None when it has none."""
        ...

    def delete(self, symbol: str) -> int:
        """Remove every bar of `symbol`; return how many there were."""
        ...


def empty_bars() -> pd.DataFrame:
    """A bar table with no rows: the schema's columns and dtypes, what `read` returns for nothing."""
    frame = pd.DataFrame({column: pd.Series(dtype=float) for column in BAR_COLUMNS})
    frame["symbol"] = pd.Series(dtype=str)
    frame["timestamp"] = pd.Series(dtype=TIMESTAMP_DTYPE)
    return frame


def utc_bound(value: pd.Timestamp | str | None, name: str) -> pd.Timestamp | None:
    """A read bound as a UTC timestamp; naive times are rejected because their zone is a guess."""
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise InputError(f"{name}={value!r} has no time zone; pass e.g. pd.Timestamp({str(value)!r}, tz='UTC')")
    return stamp.tz_convert("UTC")


def check_symbol(symbol: str) -> str:
    """`symbol` if it can key a store (a non-empty string), else an InputError."""
    if not isinstance(symbol, str) or not symbol or symbol in (".", "..") or "\x00" in symbol:
        raise InputError(f"symbol {symbol!r} is not a valid symbol; use a non-empty name such as 'SPY'")
    return symbol


def in_store_form(bars: pd.DataFrame) -> pd.DataFrame:
    """Validated bars sorted by (symbol, timestamp) with microsecond UTC timestamps: the form every
    backend keeps, so that a round trip returns exactly what it was given."""
    bars = bars.assign(timestamp=bars["timestamp"].astype(TIMESTAMP_DTYPE))
    if not bars["symbol"].is_monotonic_increasing:  # validation already made timestamps increase per symbol
        bars = bars.sort_values("symbol", kind="stable").reset_index(drop=True)
    return bars


def finish_read(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """A frame read back from a backend (timestamp and value columns) in the schema: symbol added,
    columns in order, UTC microsecond timestamps, floats, sorted by timestamp, fresh index."""
    if frame.empty:
        return empty_bars()
    stamps = frame["timestamp"]
    stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
    out = pd.DataFrame({"symbol": pd.Series(symbol, index=frame.index, dtype=str)})
    out["timestamp"] = stamps.astype(TIMESTAMP_DTYPE)
    for column in VALUE_COLUMNS:
        out[column] = frame[column].astype(float)
    if not out["timestamp"].is_monotonic_increasing:
        out = out.sort_values("timestamp", kind="stable")
    return out.reset_index(drop=True)

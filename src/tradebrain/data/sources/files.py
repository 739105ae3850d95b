"""Bars from user files (CSV, Parquet) and order-book snapshots from LOBSTER files.

Every file is untrusted input: columns are mapped to the bar schema (auto-detected by name, or
given explicitly), split Date and Time columns are combined, naive timestamps are read as
exchange-local time in `tz` and converted to UTC, and the result goes through `validate_bars`.
Errors name the file, the row and the field, and say how to fix them.
"""

from __future__ import annotations

import csv
import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tradebrain.data.schema import BAR_COLUMNS, DataValidationError, validate_bars

# Targets a file column may be mapped to: the bar columns plus split date/time parts.
TARGETS = (*BAR_COLUMNS, "date", "time")

# Normalised file column name (lower case, no spaces/underscores/dashes) -> schema name.
_ALIASES: dict[str, str] = {
    "date": "date",
    "day": "date",
    "time": "time",
    "datetime": "timestamp",
    "timestamp": "timestamp",
    "ts": "timestamp",
    "t": "timestamp",
    "open": "open",
    "o": "open",
    "high": "high",
    "h": "high",
    "low": "low",
    "l": "low",
    "close": "close",
    "c": "close",
    "last": "close",
    "volume": "volume",
    "vol": "volume",
    "v": "volume",
    "vwap": "vwap",
    "vw": "vwap",
    "trades": "trades",
    "tradecount": "trades",
    "numtrades": "trades",
    "n": "trades",
    "symbol": "symbol",
    "ticker": "symbol",
}
# Columns recognised and deliberately not kept (the schema has no place for them).
_IGNORED = {"adjclose", "openinterest", "oi"}
_TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _normalised(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).lower()


def _auto_mapping(names: Sequence[str]) -> dict[str, str]:
    """File column -> schema name for every column whose name is recognised."""
    mapping: dict[str, str] = {}
    for name in names:
        target = _ALIASES.get(_normalised(name))
        if target is not None and target not in mapping.values():
            mapping[name] = target
    return mapping


def _check_mapping(columns: Mapping[str, str], names: Sequence[str], source: str) -> dict[str, str]:
    """Validate an explicit mapping: its keys must be file columns, its values schema names."""
    for file_name, target in columns.items():
        if file_name not in names:
            close = difflib.get_close_matches(str(file_name), [str(n) for n in names], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataValidationError(f"{source}: column {file_name!r} is not in the file (has {list(names)}){hint}")
        if target not in TARGETS:
            close = difflib.get_close_matches(str(target), TARGETS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataValidationError(
                f"{source}: column {file_name!r} is mapped to {target!r}, which is not one of {list(TARGETS)}{hint}"
            )
    return dict(columns)


def _parse_times(values: pd.Series, source: str, field: str, line_offset: int) -> pd.Series:
    """Parse date strings, naming the first unparsable row (as a file line) on failure."""
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataValidationError(
            f"{source}: row {row} (line {row + line_offset}): {field} {values.iloc[row]!r} is missing or not a "
            f"date/time; fix or drop the row, or map the right column with columns={{...}}"
        )
    return parsed


def _to_bars(
    raw: pd.DataFrame,
    source: str,
    symbol: str | None,
    tz: str,
    columns: Mapping[str, str] | None,
    date_time: tuple[str, str] | None,
    repair: bool,
    line_offset: int,
) -> pd.DataFrame:
    """Map a raw table to the bar schema and validate it; errors are prefixed with `source`."""
    names = [str(name) for name in raw.columns]
    raw.columns = pd.Index(names)
    if raw.empty:
        raise DataValidationError(f"{source}: the file has no data rows; check the file (columns: {names})")
    mapping = _auto_mapping(names) if columns is None else _check_mapping(columns, names, source)
    if date_time is not None:
        _check_mapping({date_time[0]: "date", date_time[1]: "time"}, names, source)
        mapping = {k: v for k, v in mapping.items() if v not in ("date", "time", "timestamp")}
        mapping[date_time[0]] = "date"
        mapping[date_time[1]] = "time"
    by_target = {target: name for name, target in mapping.items()}
    needed = [c for c in ("open", "high", "low", "close", "volume") if c not in by_target]
    if symbol is None and "symbol" not in by_target:
        needed.insert(0, "symbol")
    if "timestamp" not in by_target and "date" not in by_target:
        needed.insert(0, "timestamp (or date)")
    if needed:
        unmapped = [n for n in names if n not in mapping and _normalised(n) not in _IGNORED]
        raise DataValidationError(
            f"{source}: cannot find columns for {needed} (file columns: {names}, unmapped: {unmapped}); "
            "pass columns={'<file column>': '<schema name>', ...} with schema names from "
            f"{list(TARGETS)}" + ("" if symbol is not None or "symbol" in by_target else ", or pass symbol=")
        )
    bars = pd.DataFrame(index=raw.index)
    bars["symbol"] = raw[by_target["symbol"]].astype(str) if symbol is None else symbol
    if "timestamp" in by_target:
        stamps = _parse_times(raw[by_target["timestamp"]], source, by_target["timestamp"], line_offset)
    elif "time" in by_target:
        text = raw[by_target["date"]].astype(str).str.strip() + " " + raw[by_target["time"]].astype(str).str.strip()
        stamps = _parse_times(text, source, f"{by_target['date']} + {by_target['time']}", line_offset)
    else:
        stamps = _parse_times(raw[by_target["date"]], source, by_target["date"], line_offset)
    if stamps.dt.tz is None:
        try:
            stamps = stamps.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception as error:  # pytz/zoneinfo raise several types for DST gaps and overlaps
            raise DataValidationError(
                f"{source}: cannot read the local times as {tz!r} ({error}); a time falls in a DST gap or "
                "overlap, or the time zone is wrong: pass the exchange's tz="
            ) from error
    bars["timestamp"] = stamps.dt.tz_convert("UTC")
    for target in ("open", "high", "low", "close", "volume", "vwap", "trades"):
        if target in by_target:
            bars[target] = raw[by_target[target]]
    try:
        return validate_bars(bars, repair=repair)
    except DataValidationError as error:
        raise DataValidationError(
            f"{source}: {error} (rows count data rows from 0: row N is line N + {line_offset} of the file)"
        ) from error


def _csv_shape(path: Path) -> tuple[list[str], int | None]:
    """The header fields and the field count of the first data row (None when there is none)."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or not any(field.strip() for field in header):
            raise DataValidationError(f"{path}: the file is empty; expected a header line and rows of bars")
        for row in reader:
            if any(field.strip() for field in row):
                return [field.strip() for field in header], len(row)
    return [field.strip() for field in header], None


def _repaired_header(header: list[str], row_fields: int, path: Path, first_row: list[str]) -> list[str]:
    """Names for rows that have one field more than the header: a Date header over Date, Time."""
    lowered = [_normalised(name) for name in header]
    if (
        row_fields == len(header) + 1
        and "date" in lowered
        and "time" not in lowered
        and _TIME_OF_DAY.match(first_row[lowered.index("date") + 1].strip())
    ):
        position = lowered.index("date") + 1
        names = [*header[:position], "Time", *header[position:]]
        warnings.warn(
            f"{path}: the header names {len(header)} columns {header} but rows have {row_fields} fields; "
            f"the field after {header[position - 1]!r} holds times, so the columns were read as {names}. "
            "Pass names=[...] to set the column names yourself.",
            UserWarning,
            stacklevel=3,
        )
        return names
    raise DataValidationError(
        f"{path}: the header names {len(header)} columns {header} but the first row has {row_fields} fields; "
        f"pass names=[...] with {row_fields} column names (e.g. names=['Date', 'Time', 'Open', 'High', 'Low', "
        "'Close', 'Volume', ...]) and, if needed, columns={...} to map them"
    )


def read_bars_csv(
    path: str | Path,
    symbol: str,
    *,
    tz: str = "UTC",
    columns: Mapping[str, str] | None = None,
    date_time: tuple[str, str] | None = None,
    names: Sequence[str] | None = None,
    repair: bool = False,
) -> pd.DataFrame:
    """Validated bars of `symbol` from a CSV file.

    `columns` maps file column names to schema names (`timestamp`, or `date` and `time`, `open`,
    `high`, `low`, `close`, `volume`, `vwap`, `trades`); without it common names are recognised
    case-insensitively (Date, Time, Open, ..., vwap, trades; Adj Close and OpenInterest are
    dropped). `date_time=(date_column, time_column)` combines split columns. Naive times are local
    time in `tz` (the exchange's zone), converted to UTC. `names` replaces the header line. A
    header with one name fewer than the rows, where the rows carry a time after the date (as in
    backtrader's 1-minute sample), is read as Date, Time, ... with a warning; any other mismatch is
    an error that says how to pass the names. `repair=True` sorts and drops exact duplicates.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file")
    header, row_fields = _csv_shape(path)
    if row_fields is None:
        raise DataValidationError(f"{path}: the file has a header {header} but no data rows")
    if names is None and row_fields != len(header):
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            first_row = next(row for row in reader if any(field.strip() for field in row))
        names = _repaired_header(header, row_fields, path, first_row)
    if names is not None:
        raw = pd.read_csv(path, header=0, names=list(names), index_col=False, skipinitialspace=True)
    else:
        raw = pd.read_csv(path, index_col=False, skipinitialspace=True)
    return _to_bars(raw, str(path), symbol, tz, columns, date_time, repair, line_offset=2)


def read_bars_parquet(
    path: str | Path,
    symbol: str | None = None,
    columns: Mapping[str, str] | None = None,
    repair: bool = False,
    *,
    tz: str = "UTC",
) -> pd.DataFrame:
    """Validated bars from a Parquet file, with the same column mapping as `read_bars_csv`.

    The symbol comes from `symbol` or else from a `symbol`/`ticker` column; a datetime index is
    used as the timestamp column; naive timestamps are local time in `tz`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file")
    try:
        raw = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises its own error types for corrupt files
        raise DataValidationError(f"{path}: not a readable Parquet file ({error})") from error
    if isinstance(raw.index, pd.DatetimeIndex):
        raw = raw.reset_index(names="timestamp" if raw.index.name is None else raw.index.name)
    else:
        raw = raw.reset_index(drop=True)
    return _to_bars(raw, str(path), symbol, tz, columns, None, repair, line_offset=0)


# --- LOBSTER -------------------------------------------------------------------------------------

LOBSTER_EMPTY_PRICE = 9_999_999_999
"""LOBSTER writes this price (negative for bids) for an empty book level; it becomes NaN here."""
LOBSTER_PRICE_SCALE = 10_000
MESSAGE_COLUMNS = ("event_type", "order_id", "size", "price", "direction")


def _lobster_fail(source: str, mask: np.ndarray, field: str, problem: str) -> None:
    bad = np.flatnonzero(mask)
    if len(bad):
        more = f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""
        raise DataValidationError(f"{source}: row {bad[0]} (line {bad[0] + 1}){more}: {field} {problem}")


def read_lobster(
    message_path: str | Path,
    orderbook_path: str | Path,
    levels: int | None = None,
    *,
    date: str,
    symbol: str,
) -> pd.DataFrame:
    """Order-book snapshots from a LOBSTER message file and its matching order-book file.

    One row per message: `timestamp` (the message time, seconds after midnight of `date` in
    America/New_York, as UTC), `symbol`, the message's `event_type`, `order_id`, `size`, `price`
    (USD) and `direction`, then the book after it: `ask_price_1, ask_size_1, bid_price_1,
    bid_size_1, ...` up to `levels` (default: all levels in the file). LOBSTER prices are USD x
    10,000 and are divided here; its empty-level prices (+/-9999999999) become NaN (with size 0),
    as does the price of a trading-halt message (event 7). Validation: the two files have the same
    number of rows, times do not decrease, prices are positive, sizes are not negative, there is no
    NaN other than at empty levels, and the best ask is above the best bid where both exist.
    """
    message_path, orderbook_path = Path(message_path), Path(orderbook_path)
    for path in (message_path, orderbook_path):
        if not path.is_file():
            raise DataValidationError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise DataValidationError(f"{path}: the file is empty")
    messages = pd.read_csv(message_path, header=None).to_numpy(dtype=float)
    book = pd.read_csv(orderbook_path, header=None).to_numpy(dtype=float)
    if messages.shape[1] < 6:
        raise DataValidationError(
            f"{message_path}: {messages.shape[1]} fields per row; a LOBSTER message file has 6 "
            "(time, event type, order id, size, price, direction)"
        )
    if book.shape[1] % 4:
        raise DataValidationError(
            f"{orderbook_path}: {book.shape[1]} fields per row, not a multiple of 4 "
            "(ask price, ask size, bid price, bid size per level)"
        )
    available = book.shape[1] // 4
    levels = available if levels is None else levels
    if not 1 <= levels <= available:
        raise DataValidationError(f"{orderbook_path}: levels={levels} but the file has 1..{available} levels")
    if len(messages) != len(book):
        raise DataValidationError(
            f"{message_path} has {len(messages)} rows but {orderbook_path} has {len(book)}; "
            "pass the matching message and order-book files"
        )
    msg_source = str(message_path)
    _lobster_fail(msg_source, ~np.isfinite(messages[:, :6]).all(axis=1), "a field", "is missing or not a number")
    seconds = messages[:, 0]
    _lobster_fail(msg_source, np.diff(seconds, prepend=seconds[0]) < 0, "time", "is before the previous message")
    events = messages[:, 1].astype(int)
    _lobster_fail(msg_source, ~np.isin(events, [1, 2, 3, 4, 5, 6, 7]), "event type", "is not one of 1..7")
    direction = messages[:, 5].astype(int)
    _lobster_fail(msg_source, ~np.isin(direction, [1, -1]), "direction", "is not 1 (buy) or -1 (sell)")
    prices = messages[:, 4] / LOBSTER_PRICE_SCALE
    prices[events == 7] = np.nan
    _lobster_fail(msg_source, (events != 7) & ~(prices > 0), "price", "is not positive")

    day = pd.Timestamp(date)
    nanos = np.round(seconds * 1e9).astype("int64")
    local = pd.DatetimeIndex(day + pd.to_timedelta(nanos, unit="ns")).tz_localize("America/New_York")
    out = pd.DataFrame(
        {
            "timestamp": local.tz_convert("UTC"),
            "symbol": symbol,
            "event_type": events,
            "order_id": messages[:, 2].astype("int64"),
            "size": messages[:, 3],
            "price": prices,
            "direction": direction,
        }
    )
    book_source = str(orderbook_path)
    raw = book[:, : 4 * levels]
    _lobster_fail(book_source, ~np.isfinite(raw).all(axis=1), "a field", "is missing or not a number")
    for level in range(levels):
        ask_price, ask_size, bid_price, bid_size = (raw[:, 4 * level + k] for k in range(4))
        for side, price, size in (("ask", ask_price, ask_size), ("bid", bid_price, bid_size)):
            empty = np.abs(price) == LOBSTER_EMPTY_PRICE
            usd = np.where(empty, np.nan, price / LOBSTER_PRICE_SCALE)
            _lobster_fail(book_source, ~empty & ~(usd > 0), f"{side}_price_{level + 1}", "is not positive")
            _lobster_fail(book_source, size < 0, f"{side}_size_{level + 1}", "is negative")
            out[f"{side}_price_{level + 1}"] = usd
            out[f"{side}_size_{level + 1}"] = np.where(empty, 0.0, size)
        # keep the LOBSTER column order: ask price, ask size, bid price, bid size per level
    order = ["timestamp", "symbol", *MESSAGE_COLUMNS]
    for level in range(1, levels + 1):
        order += [f"ask_price_{level}", f"ask_size_{level}", f"bid_price_{level}", f"bid_size_{level}"]
    out = out[order]
    ask, bid = out["ask_price_1"].to_numpy(), out["bid_price_1"].to_numpy()
    crossed = np.isfinite(ask) & np.isfinite(bid) & (ask <= bid)
    _lobster_fail(book_source, crossed, "ask_price_1", "is not above bid_price_1 (crossed or locked book)")
    return out

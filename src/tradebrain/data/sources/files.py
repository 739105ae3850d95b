"""Bars from user files (CSV, Parquet) and order-book snapshots from LOBSTER files.

Every file is untrusted input: columns are mapped to the bar schema (auto-detected by name, or
given explicitly), split Date and Time columns are combined, naive timestamps are read as
exchange-local time in `tz` and converted to UTC, and the result goes through `validate_bars`.
Errors name the file, the row and the field, and say how to fix them; that includes what pandas
and the csv module would raise as tracebacks: bytes that are not in the file's encoding, ragged
rows, a file whose delimiter is not the one asked for, epoch numbers without a unit, and a time
column that mixes UTC offsets with local times.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd

from tradebrain.data.schema import BAR_COLUMNS, DataValidationError, parse_timestamps, validate_bars

TimestampUnit = Literal["s", "ms", "us", "ns"]
"""The unit of epoch numbers in a timestamp column: seconds, milli-, micro- or nanoseconds since 1970 UTC."""

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
# Delimiters a user may name in words (a literal tab is awkward to type on a command line).
_DELIMITER_ALIASES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
_DELIMITER_NAMES = {"\t": "tab", " ": "space"}
ENCODING_FIX = "pass --encoding (e.g. latin-1 or utf-16) matching the file (encoding= in Python)"
"""The fix for a file that is not in the encoding it is read with."""
# pandas' C parser: "Error tokenizing data. C error: Expected 7 fields in line 5, saw 8".
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_UNCLOSED_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


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
    """Parse date strings (mixed UTC offsets each to UTC), naming the first unparsable row (as a file line)."""
    try:
        parsed = parse_timestamps(values, field, line_offset=line_offset, date_format="mixed")
    except DataValidationError as error:
        raise DataValidationError(f"{source}: {error}") from error
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataValidationError(
            f"{source}: row {row} (line {row + line_offset}): {field} {values.iloc[row]!r} is missing or not a "
            f"date/time; fix or drop the row, or map the right column with columns={{...}}"
        )
    return parsed


def _check_unit(source: str, timestamp_unit: str | None) -> None:
    """Refuse a timestamp_unit that is not one pandas and this module understand."""
    if timestamp_unit is not None and timestamp_unit not in get_args(TimestampUnit):
        close = difflib.get_close_matches(str(timestamp_unit), get_args(TimestampUnit), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataValidationError(
            f"{source}: timestamp_unit {timestamp_unit!r} (--timestamp-unit) is not one of "
            f"{list(get_args(TimestampUnit))} (seconds, milli-, micro-, nanoseconds since 1970){hint}"
        )


_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _likely_unit(value: float) -> str:
    """The epoch unit that puts `value` between 1973 and 5138: a hint, never applied by itself."""
    magnitude = abs(value)
    return "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"


def _yyyymmdd(values: pd.Series) -> pd.Series | None:
    """Integers that are all dates written as YYYYMMDD (20240102), parsed; else None."""
    if not pd.api.types.is_integer_dtype(values.dtype) or values.isna().any():
        return None
    numbers = values.to_numpy()
    if numbers.min() < 1800_01_01 or numbers.max() > 9999_12_31:
        return None
    parsed = pd.to_datetime(values.astype("int64").astype(str), format="%Y%m%d", errors="coerce")
    return None if parsed.isna().any() else parsed


def _epoch_times(values: pd.Series, unit: str, source: str, field: str, line_offset: int) -> pd.Series:
    """Epoch numbers in `unit` since 1970-01-01 UTC as UTC timestamps, naming the first bad row."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataValidationError(f"{source}: column {field!r} holds booleans, not epoch times; map the time column")
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        raise DataValidationError(
            f"{source}: timestamp_unit={unit!r} (--timestamp-unit) was given but column {field!r} already holds "
            "dates; drop timestamp_unit"
        )
    else:
        numbers = pd.to_numeric(values, errors="coerce")
        text = np.flatnonzero((numbers.isna() & values.notna()).to_numpy(dtype=bool))
        if len(text):
            row = int(text[0])
            raise DataValidationError(
                f"{source}: row {row} (line {row + line_offset}): {field} {values.iloc[row]!r} is not an epoch "
                f"number, but timestamp_unit={unit!r} (--timestamp-unit) says the column holds them; drop "
                "timestamp_unit for dates written as text, or fix the row"
            )
    stamps = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        where = f"{source}: row {row} (line {row + line_offset}): {field}"
        if pd.isna(numbers.iloc[row]):
            raise DataValidationError(f"{where} is missing; fix or drop the row")
        raise DataValidationError(
            f"{where} {values.iloc[row]!r} is out of range as an epoch time in unit {unit!r}; check timestamp_unit "
            f"(--timestamp-unit; the value looks like {_likely_unit(float(numbers.iloc[row]))!r}), or fix the row"
        )
    return stamps


def _timestamps(
    raw: pd.DataFrame,
    by_target: Mapping[str, str],
    source: str,
    tz: str,
    timestamp_unit: str | None,
    line_offset: int,
) -> pd.Series:
    """The UTC timestamps of the rows, from a timestamp column, a date column or date and time columns."""
    if "timestamp" not in by_target and "time" in by_target:
        date, time = by_target["date"], by_target["time"]
        if timestamp_unit is not None:
            raise DataValidationError(
                f"{source}: timestamp_unit={timestamp_unit!r} (--timestamp-unit) applies to one column of epoch "
                f"numbers, not to separate date and time columns {date!r} + {time!r}; drop timestamp_unit"
            )
        text = raw[date].astype(str).str.strip() + " " + raw[time].astype(str).str.strip()
        stamps = _parse_times(text, source, f"{date} + {time}", line_offset)
    else:
        field = by_target.get("timestamp", by_target.get("date", ""))
        values = raw[field]
        if timestamp_unit is not None:
            return _epoch_times(values, timestamp_unit, source, field, line_offset)
        if pd.api.types.is_bool_dtype(values.dtype):
            raise DataValidationError(f"{source}: column {field!r} holds booleans, not dates; map the date column")
        if pd.api.types.is_numeric_dtype(values.dtype):
            dates = _yyyymmdd(values)
            if dates is None:
                example = values.dropna().iloc[0] if values.notna().any() else values.iloc[0]
                unit = _likely_unit(float(example)) if pd.notna(example) else "s"
                raise DataValidationError(
                    f"{source}: column {field!r} holds numbers (e.g. {example}), not dates; epoch numbers need their "
                    "unit, which the numbers cannot tell (pandas would take them for nanoseconds and put the bars "
                    f"in 1970): pass timestamp_unit={unit!r} (CLI: --timestamp-unit {unit}) if they are "
                    f"{_UNIT_NAMES[unit]} since 1970 UTC, as they look, or the unit they are in (s, ms, us, ns)"
                )
            stamps = dates
        else:
            stamps = _parse_times(values, source, field, line_offset)
    if stamps.dt.tz is None:
        try:
            stamps = stamps.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception as error:  # pytz/zoneinfo raise several types for DST gaps and overlaps
            raise DataValidationError(
                f"{source}: cannot read the local times as {tz!r} ({error}); a time falls in a DST gap or "
                "overlap, or the time zone is wrong: pass the exchange's tz="
            ) from error
    return stamps.dt.tz_convert("UTC")


def _to_bars(
    raw: pd.DataFrame,
    source: str,
    symbol: str | None,
    tz: str,
    columns: Mapping[str, str] | None,
    date_time: tuple[str, str] | None,
    repair: bool,
    line_offset: int,
    timestamp_unit: str | None = None,
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
    bars["timestamp"] = _timestamps(raw, by_target, source, tz, timestamp_unit, line_offset)
    for target in ("open", "high", "low", "close", "volume", "vwap", "trades"):
        if target in by_target:
            bars[target] = raw[by_target[target]]
    try:
        return validate_bars(bars, repair=repair)
    except DataValidationError as error:
        lines = f" (rows count data rows from 0: row N is line N + {line_offset} of the file)" if line_offset else ""
        raise DataValidationError(f"{source}: {error}{lines}") from error


def _codec(path: Path, encoding: str) -> str:
    """The codec to read `encoding` with (UTF-8 tolerates a byte-order mark); an unknown name is an error."""
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError) as error:
        raise DataValidationError(
            f"{path}: unknown encoding {encoding!r}; pass --encoding (encoding=) with a Python codec name such as "
            "utf-8, latin-1, cp1252 or utf-16"
        ) from error
    return "utf-8-sig" if name == "utf-8" else name


def _delimiter(path: Path, delimiter: str) -> str:
    """The one-character field delimiter, accepting the words tab, comma, semicolon, pipe, space and '\\t'."""
    resolved = _DELIMITER_ALIASES.get(delimiter.lower(), delimiter) if isinstance(delimiter, str) else delimiter
    if not isinstance(resolved, str) or len(resolved) != 1 or resolved in '\r\n"':
        raise DataValidationError(
            f"{path}: delimiter {delimiter!r} (--delimiter) must be one character such as ',' or ';', or one of "
            f"the words {sorted(_DELIMITER_ALIASES)}"
        )
    return resolved


def _shown(delimiter: str) -> str:
    """How to write `delimiter` on a command line: tab and space as words, others quoted."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def _decode_error(path: Path, encoding: str, error: UnicodeDecodeError, fix: str) -> DataValidationError:
    """Where in the file `encoding` fails (byte offset and line), and `fix`. Reads the whole file: error path only."""
    data = path.read_bytes()
    codec = _codec(path, encoding)
    offset, reason = error.start, error.reason
    try:
        data.decode(codec)
    except UnicodeDecodeError as exact:  # pandas reports offsets within its read buffer; this is in the file
        offset, reason = exact.start, exact.reason
    line = data[:offset].decode(codec, errors="replace").count("\n") + 1
    bom = (
        "; the file starts with a UTF-16 byte-order mark, so it is most likely utf-16"
        if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        else ""
    )
    return DataValidationError(
        f"{path}: byte {offset} (line {line}) is not valid {encoding} ({reason}: "
        f"{data[offset : offset + 4]!r}){bom}; {fix}"
    )


def _parser_error(path: Path, delimiter: str, error: Exception) -> DataValidationError:
    """A pandas/csv parser error as a message naming the file, the line and how to fix it."""
    fix = f"or pass --delimiter (delimiter=) if the file separates fields with ';' or a tab (now {_shown(delimiter)})"
    match = _RAGGED.search(str(error))
    if match:
        expected, line, saw = match.groups()
        return DataValidationError(
            f"{path}: line {line} has {saw} fields but the rows before it have {expected}; fix that row (a stray "
            f'{_shown(delimiter)}, or a field holding {_shown(delimiter)} that needs "quotes"), {fix}'
        )
    quote = _UNCLOSED_QUOTE.search(str(error))
    if quote:  # pandas counts records from 0 at the header: record N is line N + 1
        return DataValidationError(
            f'{path}: line {int(quote.group(1)) + 1} opens a "quote" that never closes; fix that row (close or drop '
            "the quote)"
        )
    detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return DataValidationError(f"{path}: cannot read the file as CSV ({detail}); fix the line it names, {fix}")


def _csv_shape(path: Path, encoding: str, delimiter: str) -> tuple[list[str], list[str] | None]:
    """The header fields and the first non-blank data row (None when there is none)."""
    with path.open(newline="", encoding=_codec(path, encoding)) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None or not any(field.strip() for field in header):
            raise DataValidationError(f"{path}: the file is empty; expected a header line and rows of bars")
        header = [field.strip() for field in header]
        if any("\x00" in field for field in header):
            raise DataValidationError(
                f"{path}: the header line holds NUL characters, so the file is most likely utf-16 read as "
                f"{encoding}; {ENCODING_FIX}"
            )
        if len(header) == 1:
            for other in (";", "\t", "|", ",", " "):
                if other != delimiter and other in header[0].strip():
                    raise DataValidationError(
                        f"{path}: found one column {header[0]!r} reading fields separated by {_shown(delimiter)}; "
                        f"the file seems to use {_shown(other)}: pass --delimiter {_shown(other)} "
                        f"(delimiter={other!r} in Python)"
                    )
        try:
            for row in reader:
                if any(field.strip() for field in row):
                    return header, row
        except csv.Error as error:  # e.g. an unclosed quote that swallows the rest of the file
            raise DataValidationError(
                f"{path}: line {reader.line_num}: {error}; fix the row (an unclosed quote?)"
            ) from error
    return header, None


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
    symbol: str | None,
    *,
    tz: str = "UTC",
    columns: Mapping[str, str] | None = None,
    date_time: tuple[str, str] | None = None,
    names: Sequence[str] | None = None,
    repair: bool = False,
    encoding: str = "utf-8",
    delimiter: str = ",",
    timestamp_unit: TimestampUnit | None = None,
) -> pd.DataFrame:
    """Validated bars of `symbol` (None: the file's own symbol column) from a CSV file.

    `columns` maps file column names to schema names (`timestamp`, or `date` and `time`, `open`,
    `high`, `low`, `close`, `volume`, `vwap`, `trades`); without it common names are recognised
    case-insensitively (Date, Time, Open, ..., vwap, trades; Adj Close and OpenInterest are
    dropped). `date_time=(date_column, time_column)` combines split columns. Naive times are local
    time in `tz` (the exchange's zone), converted to UTC; times with UTC offsets are converted row
    by row (a file spanning a DST change has two offsets), and a column mixing both is an error.
    `names` replaces the header line. A header with one name fewer than the rows, where the rows
    carry a time after the date (as in backtrader's 1-minute sample), is read as Date, Time, ...
    with a warning; any other mismatch is an error that says how to pass the names. `repair=True`
    sorts and drops exact duplicates.

    `encoding` is the file's text encoding (a Python codec name; a UTF-8 byte-order mark is
    skipped) and `delimiter` its one-character field separator (the words tab, semicolon, comma,
    pipe and space are accepted too): the CLI passes --encoding and --delimiter straight through.
    A timestamp (or date) column of epoch numbers is read only with `timestamp_unit` (s, ms, us or
    ns since 1970 UTC), because the unit cannot be told from the numbers; integer dates written
    as YYYYMMDD (20240102) are read as dates.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file")
    codec = _codec(path, encoding)
    delimiter = _delimiter(path, delimiter)
    _check_unit(str(path), timestamp_unit)
    options = {"encoding": codec, "sep": delimiter, "index_col": False, "skipinitialspace": True}
    try:
        header, first_row = _csv_shape(path, encoding, delimiter)
        if first_row is None:
            raise DataValidationError(f"{path}: the file has a header {header} but no data rows")
        if names is None and len(first_row) != len(header):
            names = _repaired_header(header, len(first_row), path, first_row)
        if names is not None:
            raw = pd.read_csv(path, header=0, names=list(names), **options)
        else:
            raw = pd.read_csv(path, **options)
    except UnicodeDecodeError as error:
        raise _decode_error(path, encoding, error, ENCODING_FIX) from error
    except (pd.errors.ParserError, csv.Error) as error:
        raise _parser_error(path, delimiter, error) from error
    return _to_bars(raw, str(path), symbol, tz, columns, date_time, repair, 2, timestamp_unit)


def read_bars_parquet(
    path: str | Path,
    symbol: str | None = None,
    columns: Mapping[str, str] | None = None,
    repair: bool = False,
    *,
    tz: str = "UTC",
    timestamp_unit: TimestampUnit | None = None,
) -> pd.DataFrame:
    """Validated bars from a Parquet file, with the same column mapping as `read_bars_csv`.

    The symbol comes from `symbol` or else from a `symbol`/`ticker` column; a datetime index is
    used as the timestamp column; naive timestamps are local time in `tz`. A timestamp column of
    integers or floats (epoch times, as many tools write them) is read only with `timestamp_unit`
    (s, ms, us or ns since 1970 UTC): pandas alone would take seconds for nanoseconds and put
    every bar in January 1970. Integer dates written as YYYYMMDD are read as dates.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file")
    _check_unit(str(path), timestamp_unit)
    try:
        raw = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises its own error types for corrupt files
        raise DataValidationError(f"{path}: not a readable Parquet file ({error})") from error
    if isinstance(raw.index, pd.DatetimeIndex):
        raw = raw.reset_index(names="timestamp" if raw.index.name is None else raw.index.name)
    else:
        raw = raw.reset_index(drop=True)
    return _to_bars(raw, str(path), symbol, tz, columns, None, repair, 0, timestamp_unit)


PARQUET_SUFFIXES = (".parquet", ".pq")


def read_bars_file(
    path: str | Path,
    symbol: str | None,
    *,
    tz: str = "UTC",
    repair: bool = False,
    encoding: str = "utf-8",
    delimiter: str = ",",
    timestamp_unit: TimestampUnit | None = None,
) -> pd.DataFrame:
    """Validated bars of `symbol` (None: the file's own symbol column) from a Parquet file (by its
    suffix) or else a CSV file: the one reader every command uses, so `data import`, `data validate`,
    `backtest` and `platform replay` accept the same files."""
    path = Path(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8") or delimiter != ",":
            raise DataValidationError(f"{path}: --encoding and --delimiter apply to CSV files, not Parquet; drop them")
        return read_bars_parquet(path, symbol, repair=repair, tz=tz, timestamp_unit=timestamp_unit)
    return read_bars_csv(
        path, symbol, tz=tz, repair=repair, encoding=encoding, delimiter=delimiter, timestamp_unit=timestamp_unit
    )


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


def _lobster_table(path: Path) -> np.ndarray:
    """A LOBSTER CSV file as a float array (text cells become NaN, for the row checks to name);
    undecodable bytes and ragged rows are errors naming the file and the line."""
    try:
        raw = pd.read_csv(path, header=None)
    except UnicodeDecodeError as error:
        raise _decode_error(
            path, "utf-8", error, "a LOBSTER file is plain ASCII numbers: check that this is the right file"
        ) from error
    except pd.errors.ParserError as error:
        match = _RAGGED.search(str(error))
        if match:
            expected, line, saw = match.groups()
            where = f"line {line} has {saw} fields but the lines before it have {expected}"
        else:
            where = f"cannot read the file as CSV ({str(error).strip()})"
        raise DataValidationError(
            f"{path}: {where}; every line of a LOBSTER file has the same comma-separated fields: fix or drop the line"
        ) from error
    except pd.errors.EmptyDataError as error:
        raise DataValidationError(f"{path}: the file has no rows") from error
    table: np.ndarray = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return table


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
    messages = _lobster_table(message_path)
    book = _lobster_table(orderbook_path)
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

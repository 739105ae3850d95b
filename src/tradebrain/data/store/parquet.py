"""The default bar store: partitioned Parquet files queried with DuckDB, no server needed.

Layout: `root/symbol=<S>/date=<YYYY-MM>/part.parquet`, one file per symbol and UTC month (the
symbol is percent-encoded in the path, so any name is safe). Why this shape: an upsert rewrites
only the months it touches, a range read opens only the months it needs, and a month of 1-minute
bars (~43,000 rows at most) is big enough that per-file overhead does not dominate: day files made
a 1.5M-bar read five times slower (about 1,000 files instead of 35).

Crash safety: every file is first written to a temporary in its own directory; only when every
temporary of an ingest exists are they moved into place with `os.replace` (atomic per file). An
exception in the middle removes the temporaries and leaves the old files as they were; a killed
process leaves each file either old or new, never torn (readers ignore stray temporaries).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, unquote

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tradebrain.data.schema import validate_bars
from tradebrain.data.store.base import (
    VALUE_COLUMNS,
    check_symbol,
    empty_bars,
    finish_read,
    in_store_form,
    utc_bound,
)

PART = "part.parquet"
FILE_COLUMNS = ("timestamp", *VALUE_COLUMNS)
FILE_SCHEMA = pa.schema(
    [pa.field("timestamp", pa.timestamp("us", tz="UTC"))] + [(column, pa.float64()) for column in VALUE_COLUMNS]
)
_NAIVE_SCHEMA = FILE_SCHEMA.set(0, pa.field("timestamp", pa.timestamp("us")))


def file_table(frame: pd.DataFrame) -> pa.Table:
    """The timestamp and value columns of `frame` (UTC timestamps) as a FILE_SCHEMA table, exactly the
    table `pa.Table.from_pandas(frame, schema=FILE_SCHEMA, preserve_index=False)` gives (same values,
    NaN as null, same pandas metadata, so the same file bytes) without its pandas deprecation.

    Why not call that directly: pyarrow reads `Series.values` of a tz-aware column, which pandas 3.1
    deprecates (a Pandas4Warning on every write). So the timestamps go in as naive UTC (the same
    instants), the cast puts the UTC zone back (metadata only, values untouched), and the pandas
    metadata is marked tz-aware again as pyarrow would have written it.
    """
    naive = frame[list(FILE_COLUMNS)].assign(timestamp=frame["timestamp"].dt.tz_convert(None))
    table = pa.Table.from_pandas(naive, schema=_NAIVE_SCHEMA, preserve_index=False)
    metadata = json.loads(table.schema.metadata[b"pandas"])
    for column in metadata["columns"]:
        if column["name"] == "timestamp":
            column.update(pandas_type="datetimetz", numpy_type="datetime64[us]", metadata={"timezone": "UTC"})
    return table.cast(FILE_SCHEMA).replace_schema_metadata({b"pandas": json.dumps(metadata).encode()})


def write_part(table: pa.Table, path: Path) -> None:
    """Write one month file (or its temporary), uncompressed and without dictionaries: float bars
    barely compress, and plain pages decode about twice as fast. A module function so tests can
    make it fail."""
    pq.write_table(table, path, compression="none", use_dictionary=False)


class ParquetBarStore:
    """BarStore over partitioned Parquet files under `root`, read with DuckDB.

    `threads` write day files in parallel (pyarrow releases the GIL); `fsync=True` also flushes
    every file to disk before it is moved into place, for durability across a power cut.
    """

    def __init__(self, root: Path | str, threads: int = 8, fsync: bool = False) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.threads = max(1, threads)
        self.fsync = fsync

    # paths ---------------------------------------------------------------------------------------

    def _symbol_dir(self, symbol: str) -> Path:
        return self.root / f"symbol={quote(check_symbol(symbol), safe='')}"

    def _day_files(self, symbol: str) -> list[tuple[str, Path]]:
        """(month as YYYY-MM, file) of every month of `symbol` that has a file, in date order."""
        directory = self._symbol_dir(symbol)
        if not directory.is_dir():
            return []
        files = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("date=") and os.path.exists(os.path.join(entry.path, PART)):
                    files.append((entry.name[5:], Path(entry.path) / PART))
        return sorted(files)

    # writing -------------------------------------------------------------------------------------

    def write(self, bars: pd.DataFrame) -> int:
        """Validate `bars` and upsert them day file by day file; return the number of bars given.

        Only the touched days are rewritten (old day + new rows, the new ones winning on the same
        timestamp); a day whose content would not change is not rewritten at all, so re-ingesting
        the same data changes no file.
        """
        bars = in_store_form(validate_bars(bars))
        planned = list(self._planned_days(bars))
        temporaries: list[tuple[Path, Path]] = []
        created: list[Path] = []
        try:
            for _, target in planned:
                for directory in (target.parent.parent, target.parent):
                    if not directory.exists():
                        directory.mkdir()
                        created.append(directory)
                temporaries.append((target.parent / f".{PART}.{uuid.uuid4().hex}.tmp", target))
            jobs = [(table, temporary) for (table, _), (temporary, _) in zip(planned, temporaries, strict=True)]
            if self.threads > 1 and len(jobs) > 1:
                with ThreadPoolExecutor(self.threads) as pool:
                    for _ in pool.map(lambda job: self._write_temporary(*job), jobs):
                        pass
            else:
                for job in jobs:
                    self._write_temporary(*job)
            for temporary, target in temporaries:
                os.replace(temporary, target)
            temporaries, created = [], []
        finally:
            for temporary, _ in temporaries:
                temporary.unlink(missing_ok=True)
            for directory in reversed(created):
                if directory.exists() and not any(directory.iterdir()):
                    directory.rmdir()
        return len(bars)

    def _write_temporary(self, table: pa.Table, temporary: Path) -> None:
        write_part(table, temporary)
        if self.fsync:
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())

    def _planned_days(self, bars: pd.DataFrame) -> Iterator[tuple[pa.Table, Path]]:
        """(new content, target file) of every day file the ingest changes."""
        for symbol, group in bars.groupby("symbol", sort=True):
            table = file_table(group)
            days = group["timestamp"].dt.tz_convert(None).to_numpy().astype("datetime64[M]")
            cuts = np.flatnonzero(np.diff(days)) + 1
            starts = np.concatenate([[0], cuts])
            stops = np.concatenate([cuts, [len(days)]])
            directory = self._symbol_dir(str(symbol))
            for begin, stop in zip(starts, stops, strict=True):
                date = str(days[begin])
                target = directory / f"date={date}" / PART
                new = table.slice(begin, stop - begin)
                if target.exists():
                    merged = _merged(pq.read_table(target, schema=FILE_SCHEMA), new)
                    if merged is None:
                        continue
                    new = merged
                yield new, target

    # reading -------------------------------------------------------------------------------------

    def read(
        self, symbol: str, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None
    ) -> pd.DataFrame:
        """Bars of `symbol` in [start, end), sorted, in the schema (empty frame when none).

        Partition pruning happens on the file list (only the days in range are opened), then DuckDB
        scans them in parallel and filters the timestamps at the edges.
        """
        low, high = utc_bound(start, "start"), utc_bound(end, "end")
        files = [
            str(path)
            for date, path in self._day_files(symbol)
            if (low is None or date >= low.strftime("%Y-%m")) and (high is None or date <= high.strftime("%Y-%m"))
        ]
        if not files:
            return empty_bars()
        where, params = [], {"files": files}
        if low is not None:
            where.append("timestamp >= $low")
            params["low"] = low.to_pydatetime()
        if high is not None:
            where.append("timestamp < $high")
            params["high"] = high.to_pydatetime()
        query = f"SELECT {', '.join(FILE_COLUMNS)} FROM read_parquet($files, hive_partitioning = false)"
        if where:
            query += " WHERE " + " AND ".join(where)
        with _connect() as connection:
            frame = connection.sql(query, params=params).to_arrow_table().to_pandas()
        return finish_read(frame, symbol)

    def symbols(self) -> list[str]:
        """Every symbol with at least one day file, sorted."""
        names = []
        for entry in self.root.iterdir():
            if entry.name.startswith("symbol=") and entry.is_dir():
                symbol = unquote(entry.name[7:])
                if self._day_files(symbol):
                    names.append(symbol)
        return sorted(names)

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
        """(first, last, count) of `symbol`'s bars from the Parquet footers (no data is read)."""
        files = self._day_files(symbol)
        if not files:
            return None
        count = int(sum(pq.read_metadata(path).num_rows for _, path in files))
        first = pq.read_table(files[0][1], columns=["timestamp"])["timestamp"][0].as_py()
        last = pq.read_table(files[-1][1], columns=["timestamp"])["timestamp"][-1].as_py()
        return pd.Timestamp(first).tz_convert("UTC"), pd.Timestamp(last).tz_convert("UTC"), count

    def delete(self, symbol: str) -> int:
        """Remove `symbol`'s directory: first renamed aside (atomic), then deleted."""
        files = self._day_files(symbol)
        count = int(sum(pq.read_metadata(path).num_rows for _, path in files))
        directory = self._symbol_dir(symbol)
        if directory.exists():
            doomed = self.root / f".deleting-{uuid.uuid4().hex}"
            os.replace(directory, doomed)
            shutil.rmtree(doomed)
        return count


def _merged(old: pa.Table, new: pa.Table) -> pa.Table | None:
    """Old day + new rows with the new ones winning on equal timestamps, sorted; None when the
    result equals the old day (nothing to rewrite)."""
    before = old.to_pandas()
    combined = pd.concat([before, new.to_pandas()], ignore_index=True)
    combined = combined.drop_duplicates("timestamp", keep="last").sort_values("timestamp", kind="stable")
    combined = combined.reset_index(drop=True)
    if combined.equals(before):
        return None
    return file_table(combined)


def _connect() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection

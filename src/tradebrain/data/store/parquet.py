"""The default bar store: partitioned Parquet files queried with DuckDB, no server needed.

Layout under `root`:

    symbol=<S>/date=<YYYY-MM>/part.parquet    one file per symbol and UTC month (symbol percent-encoded)
    _locks/symbol=<S>/date=<YYYY-MM>.lock     the month's writer lock (see lock.py); _locks/journal.lock
    _journal/<started>-<id>.json              open import records (see journal.py)
    _quarantine/symbol=<S>/date=<YYYY-MM>/    unreadable month files moved aside, each with a .json note

Why this shape: an upsert rewrites only the months it touches, a range read opens only the months
it needs, and a month of 1-minute bars (~43,000 rows at most) is big enough that per-file overhead
does not dominate: day files made a 1.5M-bar read five times slower (about 1,000 files instead of 35).

Concurrent writers (threads or processes) never lose a row: a write takes the locks of every month
it touches (in sorted order, so writers cannot deadlock) and holds them from reading the old month
files to replacing them, so read-merge-replace cycles of the same month run one after another.
Writers of different months, and readers, do not wait for each other.

Crash safety: every file is first written to a temporary in its own folder
(`.part.parquet.<hex>.tmp`); only when every temporary of an ingest exists are they moved into
place with `os.replace` (atomic per file). An exception in the middle removes the temporaries and
leaves the old files as they were; a killed process leaves each file either old or new, never torn,
and its stray temporaries (which readers ignore) are swept by the next write to that month, under
the month's lock. Lock and journal files are not data: the folders above are all that is stored.

Damage stays local: a month file that cannot be read (truncated, not Parquet, wrong columns) is
moved to `_quarantine/`, recorded in the journal and reported by a CorruptPartError (reads) or a
QuarantineWarning (writes) naming the file, what was wrong and the fix (re-import that symbol's
month). Other symbols and months keep working; `tradebrain data doctor` checks and repairs a store.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, unquote

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tradebrain.core.errors import ConfigError, TradebrainError
from tradebrain.core.io import atomic_write_text, sweep_temporaries
from tradebrain.data.schema import validate_bars
from tradebrain.data.store.base import (
    VALUE_COLUMNS,
    check_symbol,
    empty_bars,
    finish_read,
    in_store_form,
    utc_bound,
)
from tradebrain.data.store.journal import FolderJournal, quarantined_month
from tradebrain.data.store.lock import DEFAULT_TIMEOUT, hold

if TYPE_CHECKING:
    from tradebrain.data.store.doctor import Finding

PART = "part.parquet"
LOCKS = "_locks"
JOURNAL = "_journal"
QUARANTINE = "_quarantine"
FILE_COLUMNS = ("timestamp", *VALUE_COLUMNS)
FILE_SCHEMA = pa.schema(
    [pa.field("timestamp", pa.timestamp("us", tz="UTC"))] + [(column, pa.float64()) for column in VALUE_COLUMNS]
)
_NAIVE_SCHEMA = FILE_SCHEMA.set(0, pa.field("timestamp", pa.timestamp("us")))
_T = TypeVar("_T")


class CorruptPartError(TradebrainError):
    """Month files of a symbol could not be read; they were quarantined. The message names each file,
    what was wrong with it and how to heal the store (re-import that symbol's month)."""


class QuarantineWarning(UserWarning):
    """A write found the month file it merges into unreadable, quarantined it and wrote the new bars alone."""


class UnreadablePartError(Exception):
    """Why a month file cannot be used (internal: becomes a quarantine)."""


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


def load_part(path: Path) -> pa.Table:
    """The month file at `path`, checked: it must be Parquet, whole, and have exactly the store's
    columns and types. Raises UnreadablePartError saying what is wrong (OSErrors such as a denied
    permission pass through: they are not damage to quarantine)."""
    try:
        table = pq.read_table(path)
    except OSError:
        raise
    except (pa.ArrowException, ValueError) as error:
        detail = re.sub(r"^Could not open Parquet input source '.*?': ", "", str(error)).strip()
        raise UnreadablePartError(f"not a readable Parquet file: {detail}") from None
    if not table.schema.equals(FILE_SCHEMA, check_metadata=False):
        found = ", ".join(f"{field.name} {field.type}" for field in table.schema)
        raise UnreadablePartError(f"wrong columns: found ({found}), expected ({_schema_text()})")
    return table


def _schema_text() -> str:
    return ", ".join(f"{field.name} {field.type}" for field in FILE_SCHEMA)


def open_root(root: Path, create: bool) -> None:
    """Make sure the store folder `root` is usable: an existing folder, or created when `create`.

    Raises a ConfigError naming the path when it is a file, missing (and not to be created: only
    imports create stores, so a mistyped path is not silently made into an empty store), or cannot
    be created.
    """
    if root.is_dir():
        return
    if root.exists() and not root.is_dir():  # asked again: another process may have just created the folder
        raise ConfigError(f"store {root} is a file, not a folder; pass the store's folder (--store), e.g. runs/store")
    if not create:
        raise ConfigError(
            f"store {root} does not exist; check the --store path, or create the store by importing bars into it "
            f"(tradebrain data import FILE --symbol SYMBOL --store {root})"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(
            f"cannot create the store folder {root}: part of that path is a file; pass a folder path to --store"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"cannot create the store folder {root}: permission denied; choose a writable folder"
        ) from None


class ParquetBarStore:
    """BarStore over partitioned Parquet files under `root`, read with DuckDB.

    `threads` write month files in parallel (pyarrow releases the GIL); `fsync=True` also flushes
    every file to disk before it is moved into place, for durability across a power cut. `create`
    makes a missing `root` (only imports should: everything else on a mistyped path must fail, not
    make an empty store); `lock_timeout` is how long a writer waits for a month another writer holds.
    """

    def __init__(
        self,
        root: Path | str,
        threads: int = 8,
        fsync: bool = False,
        *,
        create: bool = True,
        lock_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.root = Path(root)
        open_root(self.root, create)
        self.threads = max(1, threads)
        self.fsync = fsync
        self.lock_timeout = lock_timeout
        self.journal = FolderJournal(self.root / JOURNAL, self.root / LOCKS / "journal.lock")

    # paths ---------------------------------------------------------------------------------------

    def _symbol_dir(self, symbol: str) -> Path:
        return self.root / f"symbol={quote(check_symbol(symbol), safe='')}"

    def month_dir(self, symbol: str, month: str) -> Path:
        """The folder of `symbol`'s month `month` (YYYY-MM)."""
        return self._symbol_dir(symbol) / f"date={month}"

    def lock_path(self, symbol: str, month: str) -> Path:
        """The lock file serialising the writers of `symbol`'s month `month`."""
        return self.root / LOCKS / f"symbol={quote(check_symbol(symbol), safe='')}" / f"date={month}.lock"

    def months(self, symbol: str) -> list[tuple[str, Path]]:
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
        """Validate `bars` and upsert them month file by month file; return the number of bars given.

        Only the touched months are rewritten (old month + new rows, the new ones winning on the same
        timestamp), each under its lock from the read to the replace; a month whose content would
        not change is not rewritten at all, so re-ingesting the same data changes no file.
        """
        bars = in_store_form(validate_bars(bars))
        slices = list(_month_slices(bars))
        with hold([self.lock_path(symbol, month) for symbol, month, _ in slices], self.lock_timeout):
            planned: list[tuple[pa.Table, Path]] = []
            for symbol, month, new in slices:
                target = self.month_dir(symbol, month) / PART
                sweep_temporaries(target.parent, PART)
                old = self._old_month(symbol, month, target)
                if old is not None:
                    merged = _merged(old, new)
                    if merged is None:
                        continue
                    new = merged
                planned.append((new, target))
            self.install(planned)
        return len(bars)

    def _old_month(self, symbol: str, month: str, target: Path) -> pa.Table | None:
        """The month's current content (its lock held), None when it has no file or an unreadable
        one, which is quarantined with a QuarantineWarning: the write goes on with the new bars."""
        if not target.exists():
            return None
        try:
            return load_part(target)
        except UnreadablePartError as problem:
            message = self.quarantine(symbol, month, target, str(problem))
            warnings.warn(message, QuarantineWarning, stacklevel=4)
            return None

    def install(self, planned: list[tuple[pa.Table, Path]]) -> None:
        """Write every (content, target) to a temporary beside its target, then move them all into
        place; on any error remove the temporaries (and folders made for them) and keep the old files.
        The caller holds the targets' month locks."""
        temporaries: list[tuple[Path, Path]] = []
        created: list[Path] = []
        try:
            for _, target in planned:
                for directory in (target.parent.parent, target.parent):
                    if not directory.exists():
                        directory.mkdir(parents=True, exist_ok=True)
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
                with contextlib.suppress(OSError):  # not empty: another writer's month; gone: fine
                    directory.rmdir()

    def _write_temporary(self, table: pa.Table, temporary: Path) -> None:
        write_part(table, temporary)
        if self.fsync:
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())

    # damage --------------------------------------------------------------------------------------

    def quarantine(self, symbol: str, month: str, path: Path, reason: str) -> str:
        """Move the unreadable month file `path` to `_quarantine/` with a note, record it in the
        journal, and return the message naming the file, the reason and the fix. The caller holds
        the month's lock."""
        folder = self.root / QUARANTINE / path.parent.parent.name / path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        moved = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.{PART}"
        os.replace(path, moved)
        note = {"file": str(path), "symbol": symbol, "month": month, "reason": reason,
                "quarantined": datetime.now(UTC).isoformat(), "pid": os.getpid()}  # fmt: skip
        atomic_write_text(moved.with_name(moved.name + ".json"), json.dumps(note, indent=1))
        self.journal.begin(quarantined_month(symbol, month, str(moved), reason))
        return (
            f"{path} was unreadable ({reason}); it was moved to {moved}. The store now lacks {symbol}'s bars of "
            f"{month}: re-import them (tradebrain data import FILE --symbol {symbol}) to heal it"
        )

    def _heal(self, symbol: str, files: list[tuple[str, Path]]) -> list[str]:
        """Quarantine every unreadable file of `files` (each checked again under its month's lock, as
        a writer may have replaced it meanwhile); return their messages."""
        messages = []
        for month, path in files:
            try:
                load_part(path)
                continue
            except (UnreadablePartError, FileNotFoundError):
                pass
            with hold([self.lock_path(symbol, month)], self.lock_timeout):
                if not path.exists():
                    continue
                try:
                    load_part(path)
                except UnreadablePartError as problem:
                    messages.append(self.quarantine(symbol, month, path, str(problem)))
        return messages

    def _guarded(self, symbol: str, plan: Callable[[], tuple[list[tuple[str, Path]], Callable[[], _T]]]) -> _T:
        """Run the (files, action) that `plan()` makes; when the action fails on a damaged file,
        quarantine the damaged files and raise a CorruptPartError naming them. A file that vanished
        meanwhile (a concurrent delete or quarantine) makes it plan and start over once."""
        for attempt in range(2):
            files, action = plan()
            try:
                return action()
            except (pa.ArrowException, duckdb.Error, ValueError, KeyError, IndexError, FileNotFoundError) as error:
                messages = self._heal(symbol, files)
                if messages:
                    raise CorruptPartError("; ".join(messages)) from None
                if attempt == 0 and not all(path.exists() for _, path in files):
                    continue
                raise TradebrainError(f"reading {symbol} from the store {self.root} failed: {error}") from error
        raise AssertionError("unreachable")

    # reading -------------------------------------------------------------------------------------

    def read(
        self, symbol: str, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None
    ) -> pd.DataFrame:
        """Bars of `symbol` in [start, end), sorted, in the schema (empty frame when none).

        Partition pruning happens on the file list (only the months in range are opened), then DuckDB
        scans them in parallel and filters the timestamps at the edges. A damaged month file in the
        range is quarantined and reported by a CorruptPartError.
        """
        low, high = utc_bound(start, "start"), utc_bound(end, "end")
        where: list[str] = []
        params: dict[str, object] = {}
        if low is not None:
            where.append("timestamp >= $low")
            params["low"] = low.to_pydatetime()
        if high is not None:
            where.append("timestamp < $high")
            params["high"] = high.to_pydatetime()
        query = f"SELECT {', '.join(FILE_COLUMNS)} FROM read_parquet($files, hive_partitioning = false)"
        if where:
            query += " WHERE " + " AND ".join(where)

        def plan() -> tuple[list[tuple[str, Path]], Callable[[], pd.DataFrame | None]]:
            files = [
                (date, path)
                for date, path in self.months(symbol)
                if (low is None or date >= low.strftime("%Y-%m")) and (high is None or date <= high.strftime("%Y-%m"))
            ]

            def scan() -> pd.DataFrame | None:
                if not files:
                    return None
                with _connect() as connection:
                    arguments = {**params, "files": [str(path) for _, path in files]}
                    return connection.sql(query, params=arguments).to_arrow_table().to_pandas()

            return files, scan

        frame = self._guarded(symbol, plan)
        return empty_bars() if frame is None else finish_read(frame, symbol)

    def symbols(self) -> list[str]:
        """Every symbol with at least one month file, sorted."""
        names = []
        for entry in self.root.iterdir():
            if entry.name.startswith("symbol=") and entry.is_dir():
                symbol = unquote(entry.name[7:])
                if self.months(symbol):
                    names.append(symbol)
        return sorted(names)

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
        """(first, last, count) of `symbol`'s bars from the Parquet footers and the first and last
        month's timestamps; a damaged file is quarantined and reported by a CorruptPartError."""

        def plan() -> tuple[list[tuple[str, Path]], Callable[[], tuple[pd.Timestamp, pd.Timestamp, int] | None]]:
            files = self.months(symbol)

            def span() -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
                if not files:
                    return None
                count = int(sum(pq.read_metadata(path).num_rows for _, path in files))
                first = pq.read_table(files[0][1], columns=["timestamp"])["timestamp"][0].as_py()
                last = pq.read_table(files[-1][1], columns=["timestamp"])["timestamp"][-1].as_py()
                return pd.Timestamp(first).tz_convert("UTC"), pd.Timestamp(last).tz_convert("UTC"), count

            return files, span

        return self._guarded(symbol, plan)

    def delete(self, symbol: str) -> int:
        """Remove `symbol`'s folder under the locks of its months: first renamed aside (atomic), then
        deleted; returns how many bars it held (those of readable files)."""
        directory = self._symbol_dir(symbol)
        if not directory.is_dir():
            return 0
        months = sorted(entry.name[5:] for entry in directory.iterdir() if entry.name.startswith("date="))
        with hold([self.lock_path(symbol, month) for month in months], self.lock_timeout):
            count = 0
            for _, path in self.months(symbol):
                with contextlib.suppress(pa.ArrowException, OSError):
                    count += pq.read_metadata(path).num_rows
            doomed = self.root / f".deleting-{uuid.uuid4().hex}"
            os.replace(directory, doomed)
        shutil.rmtree(doomed)
        return count

    # health --------------------------------------------------------------------------------------

    def doctor(self, repair: bool = True) -> list[Finding]:
        """Check every file of the store and repair what can be repaired (see `doctor.check_parquet`)."""
        from tradebrain.data.store.doctor import check_parquet

        return check_parquet(self, repair)


def _month_slices(bars: pd.DataFrame) -> Iterator[tuple[str, str, pa.Table]]:
    """(symbol, month as YYYY-MM, new rows as a file table) of every month `bars` (store form) touch."""
    for symbol, group in bars.groupby("symbol", sort=True):
        table = file_table(group)
        months = group["timestamp"].dt.tz_convert(None).to_numpy().astype("datetime64[M]")
        cuts = np.flatnonzero(np.diff(months)) + 1
        starts = np.concatenate([[0], cuts])
        stops = np.concatenate([cuts, [len(months)]])
        for begin, stop in zip(starts, stops, strict=True):
            yield str(symbol), str(months[begin]), table.slice(begin, stop - begin)


def _merged(old: pa.Table, new: pa.Table) -> pa.Table | None:
    """Old month + new rows with the new ones winning on equal timestamps, sorted; None when the
    result equals the old month (nothing to rewrite)."""
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

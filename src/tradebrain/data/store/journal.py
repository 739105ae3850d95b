"""The import journal: which imports began and never finished, and which months lost their file.

Why: a killed import leaves every month file whole (old or new), but the store as a whole holds
part of the import, and nothing said so: `data list` looked complete. Now `tradebrain data import`
records the import (source, symbols, rows, first and last bar, start time, process) before it
writes anything and removes the record when every bar is in. A record whose process is gone marks
an interrupted import; `data list` and `data doctor` flag its symbols until a later complete import
of the same source, or one covering the same symbols and range, clears it. A month file found
unreadable and quarantined is recorded the same way (kind "quarantine"), cleared by a complete
import with bars of that symbol in that month: the fix the error message asks for.

The journal holds only open records: a finished import leaves nothing behind, so it never grows.
Each backend keeps it its own way (`FolderJournal` here for the Parquet store, a table for
PostgreSQL) with the same records and rules.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from tradebrain.core.io import atomic_write_text, sweep_temporaries
from tradebrain.data.store.lock import hold

IMPORT = "import"
QUARANTINE = "quarantine"


def process_token(pid: int) -> str | None:
    """An identity of the live process `pid` that survives pid reuse: its start time in clock ticks
    after boot (Linux /proc), "" when the process lives but the platform cannot say more, None when
    there is no such process (or only its zombie is left)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:
            return ""  # it exists, owned by someone else
        return ""
    return None if fields[0] in ("Z", "X") else fields[19]


@dataclass(frozen=True)
class ImportRecord:
    """One open journal entry: an import that began (kind "import") or a quarantined month file
    (kind "quarantine", `source` is where the file went, first/last bound its month)."""

    id: str
    kind: str
    source: str
    symbols: tuple[str, ...]
    rows: int
    first: datetime
    last: datetime
    started: datetime
    pid: int
    host: str
    token: str
    note: str = ""

    def running(self) -> bool:
        """Whether the import is still going on: its process lives on this host (pid and start time match)."""
        if self.kind != IMPORT or self.host != socket.gethostname():
            return False
        token = process_token(self.pid)
        return token is not None and (token == self.token or not self.token or not token)

    def state(self) -> str:
        """ "importing" (its process runs), "interrupted" (it does not) or "quarantined"."""
        if self.kind == QUARANTINE:
            return "quarantined"
        return "importing" if self.running() else "interrupted"

    def cleared_by(self, done: ImportRecord) -> bool:
        """Whether the complete import `done` makes this record obsolete.

        An interrupted import is cleared by a later-started complete import of the same source, or
        of all its symbols over at least its range; a quarantined month by a complete import with
        bars of that symbol in that month. A running import is never cleared by another one.
        """
        if done.kind != IMPORT or self.id == done.id or self.running():
            return False
        if self.kind == QUARANTINE:
            return bool(set(self.symbols) & set(done.symbols)) and done.first <= self.last and done.last >= self.first
        if self.started > done.started:
            return False
        covers = set(self.symbols) <= set(done.symbols) and done.first <= self.first and done.last >= self.last
        return self.source == done.source or covers

    def describe(self) -> str:
        """One line for tables and errors: what, which symbols and range, since when, and the fix."""
        span = f"{self.first:%Y-%m-%d %H:%M} .. {self.last:%Y-%m-%d %H:%M} UTC"
        if self.kind == QUARANTINE:
            return (
                f"month {self.first:%Y-%m} of {', '.join(self.symbols)} was unreadable and moved to {self.source} "
                f"({self.note}); re-import that symbol's bars of {self.first:%Y-%m} to heal it"
            )
        what = "running" if self.running() else "interrupted"
        by = f"by pid {self.pid} on {self.host}" if self.pid else f"on {self.host}"
        return (
            f"import of {self.source} ({self.rows:,} bars of {', '.join(self.symbols)}, {span}) started "
            f"{self.started:%Y-%m-%d %H:%M:%S} UTC {by} is {what}"
            + (f" ({self.note})" if self.note else "")
            + ("" if what == "running" else "; import the same file again to complete it")
        )

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready values (timestamps as ISO strings)."""
        data = asdict(self)
        data["symbols"] = list(self.symbols)
        for key in ("first", "last", "started"):
            data[key] = getattr(self, key).isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportRecord:
        """The record `to_json` wrote."""
        values = dict(data)
        values["symbols"] = tuple(values["symbols"])
        for key in ("first", "last", "started"):
            values[key] = datetime.fromisoformat(values[key]).astimezone(UTC)
        return cls(**values)


def begin_import(source: str, bars: pd.DataFrame) -> ImportRecord:
    """The record of an import of `bars` (validated) from `source` by this process, starting now."""
    stamps = bars["timestamp"]
    return ImportRecord(
        id=uuid.uuid4().hex,
        kind=IMPORT,
        source=source,
        symbols=tuple(sorted(str(symbol) for symbol in bars["symbol"].unique())),
        rows=len(bars),
        first=pd.Timestamp(stamps.min()).tz_convert("UTC").to_pydatetime(),
        last=pd.Timestamp(stamps.max()).tz_convert("UTC").to_pydatetime(),
        started=datetime.now(UTC),
        pid=os.getpid(),
        host=socket.gethostname(),
        token=process_token(os.getpid()) or "",
    )


def quarantined_month(symbol: str, month: str, moved_to: str, reason: str) -> ImportRecord:
    """The record of `symbol`'s month `month` (YYYY-MM) whose file was moved to `moved_to` because of `reason`."""
    first = pd.Timestamp(f"{month}-01", tz="UTC")
    last = first + pd.offsets.MonthBegin(1) - pd.Timedelta(microseconds=1)
    return ImportRecord(
        id=uuid.uuid4().hex,
        kind=QUARANTINE,
        source=moved_to,
        symbols=(symbol,),
        rows=0,
        first=first.to_pydatetime(),
        last=pd.Timestamp(last).to_pydatetime(),
        started=datetime.now(UTC),
        pid=os.getpid(),
        host=socket.gethostname(),
        token="",
        note=reason,
    )


def abandoned(record: ImportRecord, reason: str) -> ImportRecord:
    """`record` as an import stopped by an error: no process (pid 0), `reason` as its note."""
    return dataclasses.replace(record, pid=0, token="", note=f"stopped by an error: {reason}"[:2000])


class ImportJournal(Protocol):
    """Where a store keeps its open records."""

    def begin(self, record: ImportRecord) -> None:
        """Record `record` (atomically) before its import writes anything."""
        ...

    def complete(self, record: ImportRecord) -> list[ImportRecord]:
        """Remove `record` (its import finished) and every open record it clears; return the cleared ones."""
        ...

    def abandon(self, record: ImportRecord, reason: str) -> None:
        """Mark `record` as stopped by an error (`reason`): interrupted at once, though its process lives on."""
        ...

    def records(self) -> list[ImportRecord]:
        """Every open record, oldest first."""
        ...


class FolderJournal:
    """An ImportJournal of one JSON file per open record in `folder`, each written atomically.

    Changes happen under `lock` (a lock file), so records are never removed while another process
    decides what to clear, and the temporaries of a writer killed mid-record can be swept safely.
    """

    def __init__(self, folder: Path, lock: Path) -> None:
        self.folder = folder
        self.lock = lock

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with hold([self.lock]):
            sweep_temporaries(self.folder)
            yield

    def _path(self, record: ImportRecord) -> Path:
        return self.folder / f"{record.started:%Y%m%dT%H%M%S%f}-{record.id}.json"

    def begin(self, record: ImportRecord) -> None:
        """Write `record` as its own file (atomically, flushed to disk)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            atomic_write_text(self._path(record), json.dumps(record.to_json(), indent=1))

    def complete(self, record: ImportRecord) -> list[ImportRecord]:
        """Delete `record`'s file and those of the open records it clears."""
        if not self.folder.is_dir():
            return []
        with self._locked():
            cleared = [other for other in self.records() if other.cleared_by(record)]
            for done in (record, *cleared):
                self._path(done).unlink(missing_ok=True)
        return cleared

    def abandon(self, record: ImportRecord, reason: str) -> None:
        """Rewrite `record` without its process (pid 0) and with `reason` as its note, so it reads as
        interrupted although the process that failed may live on (a notebook, a test runner)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            atomic_write_text(self._path(record), json.dumps(abandoned(record, reason).to_json(), indent=1))

    def records(self) -> list[ImportRecord]:
        """Every readable record, oldest first (see `unreadable` for the others)."""
        return [record for _, record in self._entries() if record is not None]

    def unreadable(self) -> list[Path]:
        """Record files that are not valid records (edited by hand): the doctor reports them."""
        return [path for path, record in self._entries() if record is None]

    def remove(self, path: Path) -> None:
        """Delete one record file (the doctor's repair of an unreadable one)."""
        with self._locked():
            path.unlink(missing_ok=True)

    def _entries(self) -> list[tuple[Path, ImportRecord | None]]:
        if not self.folder.is_dir():
            return []
        entries: list[tuple[Path, ImportRecord | None]] = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                record: ImportRecord | None = ImportRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
            except FileNotFoundError:
                continue  # completed meanwhile
            except (ValueError, TypeError, KeyError):
                record = None
            entries.append((path, record))
        return entries

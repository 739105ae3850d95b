"""`tradebrain data doctor`: check a bar store and repair what can be repaired without losing data.

Why: a store outlives the processes that write it. Killed imports leave stray temporaries and
interrupted journal records, a disk or a hand edit can truncate a month file, and before this
check one bad file silently broke every command. The doctor looks at everything once and says,
per finding, what is wrong and how to fix it.

Checks of the Parquet store (every month is checked under its writer lock, so a running import
is never disturbed; a month whose lock is held is skipped with a note):

- every month file is readable Parquet with the store's columns and types (a file whose columns
  only have other types is converted; an unreadable one is quarantined: moved to `_quarantine/`
  and recorded, so the symbol's other months keep working until that month is re-imported);
- rows have timestamps, sorted, unique, each in its file's month (repaired by sorting, keeping the
  last of duplicates, and moving stray rows to their month where the store does not have them);
- stray temporaries of killed writers (swept), remains of an interrupted delete (removed), lock
  files of months that no longer exist (removed; a lock never outlives its process, so they are
  only clutter), and unreadable journal records (moved to `_quarantine/journal/`);
- open journal records: an interrupted import or a quarantined month is a problem that only a
  re-import fixes; an import still running is a note.

Repairs never delete bars: what cannot be read is moved aside, not removed. A finding's status is
"ok", "note" (worth knowing, nothing to do), "repaired" or "problem" (remains; its detail says
how to fix it). The command exits 2 while a problem remains.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tradebrain.core.io import TEMPORARY_SUFFIX, sweep_temporaries
from tradebrain.data.schema import DataValidationError
from tradebrain.data.store.base import finish_read
from tradebrain.data.store.journal import FolderJournal, ImportRecord
from tradebrain.data.store.lock import hold, try_hold

if TYPE_CHECKING:
    from tradebrain.data.store.parquet import ParquetBarStore

OK, NOTE, REPAIRED, PROBLEM = "ok", "note", "repaired", "problem"
MONTH_FOLDER = re.compile(r"date=\d{4}-\d{2}")


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report: which check, its status, where, and what (with the fix)."""

    check: str
    status: str
    where: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        """The finding as a JSON object."""
        return asdict(self)


def healthy(findings: list[Finding]) -> bool:
    """Whether no problem remains among `findings`."""
    return not any(finding.status == PROBLEM for finding in findings)


def journal_findings(records: list[ImportRecord]) -> list[Finding]:
    """The findings of a journal's open records: interrupted imports and quarantined months are
    problems (a re-import fixes them), running imports are notes."""
    findings = []
    for record in records:
        state = record.state()
        where = ", ".join(record.symbols)
        status = NOTE if state == "importing" else PROBLEM
        findings.append(Finding("imports", status, where, record.describe()))
    if not findings:
        findings.append(Finding("imports", OK, "journal", "no interrupted import, no quarantined month"))
    return findings


class _ParquetDoctor:
    """One run of the Parquet checks; `findings` collects what it saw and did."""

    def __init__(self, store: ParquetBarStore, repair: bool) -> None:
        self.store = store
        self.repair = repair
        self.findings: list[Finding] = []
        self.files = 0
        self.rows = 0
        self.symbols: set[str] = set()
        self.stray: list[tuple[str, str, str]] = []

    def add(self, check: str, status: str, where: Path | str, detail: str) -> None:
        self.findings.append(Finding(check, status, str(where), detail))

    def unrepaired(self, check: str, where: Path | str, detail: str, fix: str) -> None:
        """A problem the doctor can repair but was told not to."""
        self.add(check, PROBLEM, where, f"{detail}; {fix} (or run `tradebrain data doctor --repair`)")

    def run(self) -> list[Finding]:
        root = self.store.root
        for entry in sorted(root.iterdir()):
            if entry.name.startswith(".deleting-") and entry.is_dir():
                self._leftover_delete(entry)
            elif entry.name.startswith("symbol=") and entry.is_dir():
                self._symbol(unquote(entry.name[7:]), entry)
        self._move_stray_rows()
        if not any(finding.check in ("files", "rows") for finding in self.findings):
            self.add("files", OK, root, f"{self.files} month file(s) of {len(self.symbols)} symbol(s), {self.rows:,} "
                     "bars: readable, right columns, sorted, unique, each row in its month")  # fmt: skip
        self._locks()
        self._journal()
        quarantined = [path for path in (root / "_quarantine").rglob("*") if path.is_file() and path.suffix != ".json"]
        if quarantined:
            self.add("quarantine", NOTE, root / "_quarantine", f"{len(quarantined)} file(s) kept for inspection; "
                     "delete them once their months are re-imported")  # fmt: skip
        return self.findings

    def _leftover_delete(self, folder: Path) -> None:
        if self.repair:
            shutil.rmtree(folder)
            self.add("leftovers", REPAIRED, folder, "removed the remains of an interrupted `delete`")
        else:
            self.unrepaired("leftovers", folder, "remains of an interrupted `delete`", "remove the folder")

    def _symbol(self, symbol: str, folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            if not (entry.is_dir() and MONTH_FOLDER.fullmatch(entry.name)):
                self.add("layout", NOTE, entry, "not a month folder (date=YYYY-MM); the store ignores it")
                continue
            month = entry.name[5:]
            lock = try_hold(self.store.lock_path(symbol, month))
            if lock is None:
                self.add("locks", NOTE, entry, "a writer holds this month's lock (an import is running), so it was "
                         "not checked; run the doctor again when it has finished")  # fmt: skip
                continue
            try:
                self._month(symbol, month, entry)
            finally:
                lock.release()
        if self.repair and not any(folder.iterdir()):
            folder.rmdir()

    def _month(self, symbol: str, month: str, folder: Path) -> None:
        """The checks of one month folder (its lock held)."""
        from tradebrain.data.store.parquet import PART, UnreadablePartError, load_part

        temporaries = [
            p for p in folder.iterdir() if p.name.startswith(f".{PART}.") and p.name.endswith(TEMPORARY_SUFFIX)
        ]
        if temporaries and self.repair:
            sweep_temporaries(folder, PART)
            self.add("temporaries", REPAIRED, folder, f"removed {len(temporaries)} stray temporaries of killed writers")
        elif temporaries:
            self.unrepaired("temporaries", folder, f"{len(temporaries)} stray temporaries of killed writers",
                            "they are safe to delete when no import runs")  # fmt: skip
        path = folder / PART
        if not path.exists():
            if self.repair and not any(folder.iterdir()):
                folder.rmdir()
            return
        try:
            table = load_part(path)
        except UnreadablePartError as problem:
            table = self._convertible(path, str(problem))
            if table is None:
                return
        self.symbols.add(symbol)
        self.files += 1
        self.rows += table.num_rows
        self._rows(symbol, month, path, table)

    def _convertible(self, path: Path, reason: str) -> pa.Table | None:
        """A file with the store's columns in other types, converted (and rewritten when repairing);
        otherwise None, after quarantining the file (or reporting it)."""
        from tradebrain.data.store.parquet import FILE_SCHEMA, UnreadablePartError

        symbol, month = unquote(path.parent.parent.name[7:]), path.parent.name[5:]
        try:
            table = pq.read_table(path).select(FILE_SCHEMA.names).cast(FILE_SCHEMA)
        except (pa.ArrowException, KeyError, ValueError, UnreadablePartError):
            if self.repair:
                message = self.store.quarantine(symbol, month, path, reason)
                self.add("files", REPAIRED, path, f"{message} (see the imports check)")
            else:
                self.unrepaired("files", path, f"unreadable: {reason}",
                                f"quarantine it, then re-import {symbol}'s bars of {month}")  # fmt: skip
            return None
        if self.repair:
            self.store.install([(table, path)])
            self.add("files", REPAIRED, path, f"converted to the store's column types ({reason})")
        else:
            self.unrepaired("files", path, reason, "convert it to the store's column types")
        return table

    def _rows(self, symbol: str, month: str, path: Path, table: pa.Table) -> None:
        """Timestamps present, strictly increasing (sorted and unique) and inside the file's month."""
        from tradebrain.data.store.parquet import file_table

        stamps = table.column("timestamp")
        values = stamps.drop_null().cast(pa.int64()).to_numpy()
        wrong = values.astype("datetime64[us]").astype("datetime64[M]") != np.datetime64(month, "M")
        counts = {"rows without a timestamp": stamps.null_count, "rows out of order or duplicated":
                  int(np.sum(np.diff(values) <= 0)), "rows of other months": int(wrong.sum())}  # fmt: skip
        detail = ", ".join(f"{count} {text}" for text, count in counts.items() if count)
        if not detail:
            return
        if not self.repair:
            self.unrepaired("rows", path, detail, "sort the file, keep the last of duplicates and move stray rows")
        elif wrong.any():
            self.stray.append((symbol, month, detail))  # moved once every month has been checked
        else:
            self.store.install([(file_table(_tidy(table.to_pandas())), path)])
            self.add("rows", REPAIRED, path, f"{detail}: sorted, kept the last of each duplicated timestamp")

    def _move_stray_rows(self) -> None:
        """Move rows found in the wrong month file into their month (where it lacks their timestamps)
        and rewrite the file without them, under the locks of every month involved. The month they
        came from is replaced last, so a crash in between leaves copies, never a loss."""
        from tradebrain.data.schema import validate_bars
        from tradebrain.data.store.parquet import PART, UnreadablePartError, file_table, load_part

        for symbol, month, detail in self.stray:
            source = self.store.month_dir(symbol, month) / PART
            frame = _tidy(load_part(source).to_pandas())
            homes = frame["timestamp"].dt.strftime("%Y-%m")
            targets = sorted(set(homes) - {month})
            locks = [self.store.lock_path(symbol, other) for other in [month, *targets]]
            with hold(locks, self.store.lock_timeout):
                try:
                    frame = _tidy(load_part(source).to_pandas())
                    homes = frame["timestamp"].dt.strftime("%Y-%m")
                    validate_bars(finish_read(frame[homes != month], symbol))
                    planned = []
                    for other in targets:
                        rows = frame[homes == other]
                        target = self.store.month_dir(symbol, other) / PART
                        old = load_part(target).to_pandas() if target.exists() else rows.iloc[:0]
                        rows = rows[~rows["timestamp"].isin(old["timestamp"])]
                        if not rows.empty:
                            planned.append((file_table(_tidy(pd.concat([old, rows], ignore_index=True))), target))
                except (UnreadablePartError, DataValidationError) as error:
                    self.add("rows", PROBLEM, source, f"{detail}; the stray rows could not be moved ({error}): "
                             "fix or remove them by hand")  # fmt: skip
                    continue
                kept = frame[homes == month].reset_index(drop=True)
                if not kept.empty:
                    planned.append((file_table(kept), source))
                self.store.install(planned)
                if kept.empty:
                    source.unlink()
            self.add("rows", REPAIRED, source, f"{detail}: sorted, kept the last of each duplicated timestamp, moved "
                     "stray rows to their months (where those lacked them)")  # fmt: skip

    def _locks(self) -> None:
        """Lock files of months that no longer exist: removed under the lock (harmless otherwise)."""
        root = self.store.root / "_locks"
        stale = 0
        for path in sorted(root.glob("symbol=*/date=*.lock")) if root.is_dir() else []:
            if (self.store.root / path.parent.name / path.name.removesuffix(".lock")).is_dir():
                continue
            if not self.repair:
                stale += 1
                continue
            lock = try_hold(path)
            if lock is None:
                continue  # a writer is creating that month right now
            try:
                path.unlink(missing_ok=True)
                stale += 1
            finally:
                lock.release()
        if stale:
            status, verb = (REPAIRED, "removed") if self.repair else (NOTE, "found")
            self.add("locks", status, root, f"{verb} {stale} lock files of months that no longer exist (clutter only: "
                     "a lock is released by the system when its process ends)")  # fmt: skip

    def _journal(self) -> None:
        journal: FolderJournal = self.store.journal
        folder = journal.folder
        temporaries = [p for p in folder.iterdir() if p.name.endswith(TEMPORARY_SUFFIX)] if folder.is_dir() else []
        if temporaries and self.repair:
            with hold([journal.lock], self.store.lock_timeout):
                sweep_temporaries(folder)
            self.add("journal", REPAIRED, folder, f"removed {len(temporaries)} stray temporaries of killed writers")
        elif temporaries:
            self.unrepaired(
                "journal", folder, f"{len(temporaries)} stray temporaries", "delete them when no import runs"
            )
        for path in journal.unreadable():
            if self.repair:
                target = self.store.root / "_quarantine" / "journal"
                target.mkdir(parents=True, exist_ok=True)
                os.replace(path, target / path.name)
                self.add("journal", REPAIRED, path, f"not a valid journal record; moved to {target}")
            else:
                self.unrepaired("journal", path, "not a valid journal record", "move it out of _journal/")
        self.findings.extend(journal_findings(journal.records()))


def check_parquet(store: ParquetBarStore, repair: bool = True) -> list[Finding]:
    """Check the Parquet store `store` (see the module docstring) and, when `repair`, repair it."""
    return _ParquetDoctor(store, repair).run()


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """File rows with a timestamp, sorted, the last of each duplicated timestamp kept."""
    frame = frame[frame["timestamp"].notna()].sort_values("timestamp", kind="stable")
    return frame.drop_duplicates("timestamp", keep="last").reset_index(drop=True)

"""The import journal: records round-trip, a dead process's import reads as interrupted, the rules
that clear a record, and the folder journal's atomic files, completion and sweep."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd

from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store.journal import (
    FolderJournal,
    ImportRecord,
    begin_import,
    process_token,
    quarantined_month,
)


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _import(
    symbols: tuple[str, ...] = ("SPY",), start: str = "2024-03-04", n: int = 2000, **fields: object
) -> ImportRecord:
    bars = pd.concat([random_walk_bars(n, symbol, start) for symbol in symbols], ignore_index=True)
    record = begin_import("/data/spy.csv", bars)
    return dataclasses.replace(record, **fields) if fields else record  # type: ignore[arg-type]


def test_a_record_round_trips_through_json() -> None:
    record = _import(("A", "B"))
    again = ImportRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    assert record.rows == 4000 and record.symbols == ("A", "B") and record.pid == os.getpid()


def test_process_tokens_tell_live_from_dead_processes() -> None:
    assert process_token(os.getpid()) == process_token(os.getpid()) != None  # noqa: E711
    assert process_token(_dead_pid()) is None


def test_an_import_of_this_process_is_running_and_of_a_dead_one_interrupted() -> None:
    running = _import()
    assert running.running() and running.state() == "importing"
    dead = dataclasses.replace(running, pid=_dead_pid())
    assert not dead.running() and dead.state() == "interrupted"
    reused = dataclasses.replace(running, token="1")  # same pid, another start time: pid reuse
    assert reused.state() == "interrupted"
    elsewhere = dataclasses.replace(running, host="another-host")
    assert elsewhere.state() == "interrupted"
    assert "import the same file again" in dead.describe() and "2,000 bars of SPY" in dead.describe()


def test_what_clears_an_interrupted_import() -> None:
    old = _import(pid=_dead_pid())
    later = timedelta(seconds=5)
    same_source = _import(started=old.started + later, source=old.source, first=old.first + later)
    covering = _import(("SPY", "QQQ"), start="2024-03-01", n=20_000, source="/other.csv", started=old.started + later)
    partial = _import(start="2024-03-05", source="/other.csv", started=old.started + later)
    other_symbol = _import(("QQQ",), start="2024-03-01", n=20_000, source="/other.csv", started=old.started + later)
    assert old.cleared_by(same_source) and old.cleared_by(covering)
    assert not old.cleared_by(partial) and not old.cleared_by(other_symbol)
    earlier = dataclasses.replace(same_source, started=old.started - later)  # began before the interrupted one
    assert not old.cleared_by(earlier)
    running = _import(started=old.started)
    assert not running.cleared_by(same_source)  # a running import finishes by itself


def test_what_clears_a_quarantined_month() -> None:
    record = quarantined_month("SPY", "2024-03", "/store/_quarantine/x.part.parquet", "truncated")
    assert record.state() == "quarantined" and "re-import that symbol's bars of 2024-03" in record.describe()
    assert record.cleared_by(_import())
    assert not record.cleared_by(_import(("QQQ",)))
    assert not record.cleared_by(_import(start="2024-04-02"))


def test_folder_journal_writes_completes_and_clears(tmp_path: Path) -> None:
    journal = FolderJournal(tmp_path / "_journal", tmp_path / "_locks" / "journal.lock")
    assert journal.records() == [] and journal.complete(_import()) == []
    interrupted = _import(pid=_dead_pid())
    journal.begin(interrupted)
    (journal.folder / ".x.json.abc.tmp").write_text("{")  # left by a writer killed mid-record
    unrelated = quarantined_month("QQQ", "2024-01", "/q", "not Parquet")
    journal.begin(unrelated)
    assert not (journal.folder / ".x.json.abc.tmp").exists()  # swept under the journal lock
    assert journal.records() == [interrupted, unrelated]
    redo = _import(started=interrupted.started + timedelta(seconds=1))
    journal.begin(redo)
    assert len(journal.records()) == 3
    assert journal.complete(redo) == [interrupted]
    assert journal.records() == [unrelated]
    stopped = _import()
    journal.begin(stopped)
    assert journal.records()[-1].state() == "importing"  # this process runs it
    journal.abandon(stopped, "OSError: disk full")
    [_, failed] = journal.records()
    assert failed.id == stopped.id and failed.state() == "interrupted" and "disk full" in failed.describe()
    journal.complete(failed)
    broken = journal.folder / "broken.json"
    broken.write_text("not json")
    assert journal.unreadable() == [broken] and journal.records() == [unrelated]
    journal.remove(broken)
    assert journal.unreadable() == []

"""The store doctor on the Parquet store: a healthy store passes, and each kind of damage is found,
repaired when it can be (and only reported with repair=False), or left as a problem that says how
to fix it."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import ParquetBarStore
from tradebrain.data.store import parquet as parquet_module
from tradebrain.data.store.doctor import NOTE, OK, PROBLEM, REPAIRED, Finding, healthy
from tradebrain.data.store.journal import begin_import
from tradebrain.data.store.lock import try_hold


def make_bars(n: int = 3000, symbol: str = "TEST", seed: int = 0) -> pd.DataFrame:
    """`n` bars every 20 minutes from 2024-02-20 22:00 UTC (3,000 span February to April)."""
    return random_walk_bars(n, symbol, "2024-02-20 22:00", freq="20min", seed=seed)


@pytest.fixture
def store(tmp_path: Path) -> ParquetBarStore:
    created = ParquetBarStore(tmp_path / "store", threads=1)
    created.write(make_bars())
    created.write(make_bars(200, "OTHER", seed=1))
    return created


def _state(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def _by_status(findings: list[Finding], status: str) -> list[Finding]:
    return [finding for finding in findings if finding.status == status]


def _part(store: ParquetBarStore, month: str, symbol: str = "TEST") -> Path:
    return store.month_dir(symbol, month) / parquet_module.PART


def test_a_healthy_store_passes(store: ParquetBarStore) -> None:
    findings = store.doctor()
    assert healthy(findings) and not _by_status(findings, PROBLEM) and not _by_status(findings, REPAIRED)
    [files] = [finding for finding in findings if finding.check == "files"]
    assert files.status == OK and "4 month file(s) of 2 symbol(s), 3,200 bars" in files.detail


def test_leftovers_of_killed_processes_are_reported_then_swept(store: ParquetBarStore) -> None:
    stray = store.month_dir("TEST", "2024-03") / ".part.parquet.0123abcd.tmp"
    stray.write_bytes(b"partial")
    deleting = store.root / ".deleting-0123"
    (deleting / "date=2024-01").mkdir(parents=True)
    stale = store.lock_path("GONE", "2023-01")
    stale.parent.mkdir(parents=True)
    stale.touch()
    (store.journal.folder).mkdir(exist_ok=True)
    (store.journal.folder / ".rec.json.1.tmp").write_text("{")
    before = _state(store.root)
    report = store.doctor(repair=False)
    assert _state(store.root) == before  # reporting changes nothing
    assert {finding.check for finding in _by_status(report, PROBLEM)} == {"temporaries", "leftovers", "journal"}
    assert all("--repair" in finding.detail for finding in _by_status(report, PROBLEM))
    assert [finding.check for finding in _by_status(report, NOTE)] == ["locks"]  # stale lock files are only clutter
    repaired = store.doctor()
    assert healthy(repaired)
    assert {finding.check for finding in _by_status(repaired, REPAIRED)} == {
        "temporaries",
        "leftovers",
        "locks",
        "journal",
    }
    assert not stray.exists() and not deleting.exists() and not stale.exists()
    assert healthy(store.doctor()) and not _by_status(store.doctor(), REPAIRED)
    pd.testing.assert_frame_equal(store.read("TEST"), make_bars())


def test_an_unreadable_file_is_quarantined_and_stays_a_problem_until_re_imported(store: ParquetBarStore) -> None:
    path = _part(store, "2024-03")
    path.write_bytes(path.read_bytes()[:1000])
    report = store.doctor(repair=False)
    assert path.exists() and not healthy(report)
    [problem] = _by_status(report, PROBLEM)
    assert problem.where == str(path) and "not a readable Parquet file" in problem.detail
    repaired = store.doctor()
    assert not path.exists() and _by_status(repaired, REPAIRED)[0].check == "files"
    [left] = _by_status(repaired, PROBLEM)  # the month's bars are missing until re-imported
    assert left.check == "imports" and "re-import that symbol's bars of 2024-03" in left.detail
    assert [finding.check for finding in _by_status(repaired, NOTE)] == ["quarantine"]
    bars = make_bars()
    record = begin_import("/data/test.csv", bars)
    store.write(bars)
    store.journal.complete(record)
    assert healthy(store.doctor())
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_unsorted_and_duplicated_rows_are_put_right(store: ParquetBarStore) -> None:
    path = _part(store, "2024-03")
    table = parquet_module.load_part(path)
    order = np.random.default_rng(0).permutation(table.num_rows)
    shuffled = pa.concat_tables([table.take(order), table.slice(10, 5)])  # 5 timestamps twice
    parquet_module.write_part(shuffled, path)
    [problem] = _by_status(store.doctor(repair=False), PROBLEM)
    assert problem.check == "rows" and "out of order or duplicated" in problem.detail
    report = store.doctor()
    assert healthy(report) and [finding.check for finding in _by_status(report, REPAIRED)] == ["rows"]
    pd.testing.assert_frame_equal(store.read("TEST"), make_bars())


def test_rows_in_the_wrong_month_move_to_their_month(store: ParquetBarStore) -> None:
    bars = make_bars()
    march, april = _part(store, "2024-03"), _part(store, "2024-04")
    april_table = parquet_module.load_part(april)
    moved = april_table.slice(april_table.num_rows - 50, 50)  # April's last 50 rows, removed from April
    parquet_module.write_part(april_table.slice(0, april_table.num_rows - 50), april)
    also_in_april = april_table.slice(0, 3)  # and 3 rows April still has, also copied into March
    parquet_module.write_part(pa.concat_tables([parquet_module.load_part(march), moved, also_in_april]), march)
    [problem] = _by_status(store.doctor(repair=False), PROBLEM)
    assert "53 rows of other months" in problem.detail
    assert healthy(store.doctor())
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_a_file_with_convertible_column_types_is_converted(store: ParquetBarStore) -> None:
    path = _part(store, "2024-03")
    table = parquet_module.load_part(path)
    naive = table.set_column(0, "timestamp", table.column("timestamp").cast(pa.timestamp("ns")))
    parquet_module.write_part(naive, path)
    [problem] = _by_status(store.doctor(repair=False), PROBLEM)
    assert "wrong columns" in problem.detail
    report = store.doctor()
    assert healthy(report) and "converted" in _by_status(report, REPAIRED)[0].detail
    pd.testing.assert_frame_equal(store.read("TEST"), make_bars())


def test_a_month_being_written_is_skipped_with_a_note(store: ParquetBarStore) -> None:
    stray = store.month_dir("TEST", "2024-03") / ".part.parquet.live.tmp"  # a running writer's temporary
    stray.write_bytes(b"being written")
    held = try_hold(store.lock_path("TEST", "2024-03"))
    assert held is not None
    try:
        report = store.doctor()
    finally:
        held.release()
    assert stray.exists() and healthy(report)
    assert any(finding.check == "locks" and "an import is running" in finding.detail for finding in report)


def test_journal_records_interrupted_running_and_unreadable(store: ParquetBarStore) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = begin_import("/data/test.csv", make_bars())
    store.journal.begin(dataclasses.replace(record, pid=dead.pid))
    store.journal.begin(begin_import("/data/live.csv", make_bars(10, "LIVE")))  # this process: still running
    (store.journal.folder / "hand-edited.json").write_text("{not json")
    report = store.doctor()
    [interrupted] = [finding for finding in report if finding.check == "imports" and finding.status == PROBLEM]
    assert "import of /data/test.csv" in interrupted.detail and "import the same file again" in interrupted.detail
    assert any(
        finding.check == "imports" and finding.status == NOTE and "running" in finding.detail for finding in report
    )
    assert any(finding.check == "journal" and finding.status == REPAIRED for finding in report)
    assert (store.root / "_quarantine" / "journal" / "hand-edited.json").exists()

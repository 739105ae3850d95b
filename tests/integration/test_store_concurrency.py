"""Concurrent imports into one store never lose or double a row, in the Parquet store and in
PostgreSQL (its own schema and table prefix, dropped after), with real processes:

- 8 `tradebrain data import` processes, each of a different day of the same month of one symbol
  (the case that lost half the rows before the Parquet store locked its months);
- 8 processes writing those days through the store API, released at the same instant, so their
  read-merge-replace cycles are sure to overlap;
- 2 imports of 120,000 bars each, overlapping by half, run at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import ParquetBarStore, PostgresBarStore

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from tradebrain.cli import app; app()"]
WRITER = r"""
import os, sys, time
import pandas as pd
kind, where, schema, bars_path, ready, go = sys.argv[1:7]
if kind == "parquet":
    from tradebrain.data.store import ParquetBarStore
    store = ParquetBarStore(where, threads=1)
else:
    from tradebrain.data.store import PostgresBarStore
    store = PostgresBarStore(where, schema=schema, prefix="c_")
bars = pd.read_pickle(bars_path)
open(ready, "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("never released")
    time.sleep(0.001)
store.write(bars)
"""


@dataclass
class Target:
    """A store under test: its kind, its CLI options and a fresh object to read it with."""

    kind: str
    options: list[str]
    where: str
    schema: str

    def open(self) -> ParquetBarStore | PostgresBarStore:
        if self.kind == "parquet":
            return ParquetBarStore(self.where, create=False)
        return PostgresBarStore(self.where, schema=self.schema, prefix="c_")


@pytest.fixture(params=["parquet", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "parquet":
        yield Target("parquet", ["--store", str(tmp_path / "store")], str(tmp_path / "store"), "")
        return
    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"tb_conc_{uuid.uuid4().hex[:10]}"
    created = Target("postgres", ["--postgres", dsn, "--schema", schema, "--table-prefix", "c_"], dsn, schema)
    try:
        created.open()  # the schema and tables, before the writers race
        yield created
    finally:
        with psycopg.connect(dsn) as connection:
            connection.execute(
                psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(schema))
            )


def _csv(bars: pd.DataFrame, path: Path) -> Path:
    bars.drop(columns="symbol").to_csv(path, index=False)
    return path


def _run_at_once(commands: list[list[str]]) -> None:
    """Start every command, wait for all; each must exit 0."""
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for command in commands
    ]
    failures = []
    for process in processes:
        _, err = process.communicate(timeout=300)
        if process.returncode != 0:
            failures.append(f"exit {process.returncode}: {err[-2000:]}")
    assert failures == []


def _days() -> list[pd.DataFrame]:
    """Eight different days of 1-minute bars of SPY, all in March 2024 (seeded)."""
    return [random_walk_bars(1440, "SPY", f"2024-03-{day:02d}", seed=day) for day in range(1, 9)]


def _assert_exactly(target: Target, expected: pd.DataFrame) -> None:
    """The store holds exactly `expected` (every row once), and no import is left open."""
    stored = target.open().read("SPY")
    assert len(stored) == len(expected) and stored["timestamp"].is_unique
    pd.testing.assert_frame_equal(stored, expected.reset_index(drop=True))
    result = CliRunner().invoke(app, ["data", "list", *target.options, "--json"])
    assert result.exit_code == 0, result.output
    [listed] = json.loads(result.stdout.strip().splitlines()[-1])["symbols"]
    assert listed["bars"] == len(expected) and listed["status"] == "ok"


def test_eight_concurrent_imports_of_one_month_keep_every_row(target: Target, tmp_path: Path) -> None:
    days = _days()
    files = [_csv(bars, tmp_path / f"day{number}.csv") for number, bars in enumerate(days)]
    _run_at_once([[*CLI, "data", "import", str(file), "--symbol", "SPY", *target.options] for file in files])
    _assert_exactly(target, pd.concat(days, ignore_index=True))


def test_eight_writers_released_at_once_keep_every_row(target: Target, tmp_path: Path) -> None:
    if target.kind == "parquet":
        ParquetBarStore(target.where)
    days = _days()
    go = tmp_path / "go"
    commands, ready = [], []
    for number, bars in enumerate(days):
        bars.to_pickle(tmp_path / f"day{number}.pkl")
        ready.append(tmp_path / f"ready{number}")
        commands.append([sys.executable, "-c", WRITER, target.kind, target.where, target.schema,
                         str(tmp_path / f"day{number}.pkl"), str(ready[-1]), str(go)])  # fmt: skip
    processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for command in commands]
    deadline = time.monotonic() + 120
    while not all(path.exists() for path in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # every writer has its bars in memory: release them together
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * len(days), errors
    stored = target.open().read("SPY")
    pd.testing.assert_frame_equal(stored, pd.concat(days, ignore_index=True))


def test_two_large_overlapping_imports_keep_every_row_once(target: Target, tmp_path: Path) -> None:
    bars = random_walk_bars(180_000, "SPY", "2024-01-01", seed=7)
    first = _csv(bars.iloc[:120_000], tmp_path / "first.csv")
    second = _csv(bars.iloc[60_000:], tmp_path / "second.csv")
    _run_at_once([[*CLI, "data", "import", str(file), "--symbol", "SPY", *target.options] for file in (first, second)])
    _assert_exactly(target, bars)

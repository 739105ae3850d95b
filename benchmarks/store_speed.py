"""Store speed: bars/s written and seconds to read all 1.5 million 1-minute bars of one symbol, for
the Parquet/DuckDB store, PostgreSQL (when reachable) and plain pandas CSV as the reference.

Why: the issue's targets, as ratios measured in the same run: reading from the default store at
least 20x faster than `read_csv` of the same data (timestamps parsed, as a store returns them), and
writing at least 5x faster than `to_csv`. Each side is timed once with `time.perf_counter`; writes
go to a fresh directory or table, so they are full ingests, not no-op re-ingests.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg
from rich.table import Table

from benchmarks.report import verdict
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import ParquetBarStore, PostgresBarStore

READ_TARGET = 20.0
WRITE_TARGET = 5.0
POSTGRES_DSN = "postgresql://127.0.0.1:5432/test"


@dataclass(frozen=True)
class StoreSpeedRow:
    """One backend's write rate and full-read time, with its ratios against CSV (None for CSV)."""

    backend: str
    bars: int
    write_bars_per_s: float
    read_seconds: float
    read_speedup: float | None = None
    write_speedup: float | None = None
    read_passed: bool | None = None
    write_passed: bool | None = None


def make_bars(bars: int, symbol: str = "SYN", seed: int = 0) -> pd.DataFrame:
    """`bars` 1-minute bars of one symbol around the clock (random-walk closes, consistent OHLC)."""
    return random_walk_bars(bars, symbol, "2020-01-01", seed=seed, volatility=5e-4, vwap_gaps=None)


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def postgres_reachable(dsn: str = POSTGRES_DSN) -> bool:
    """Whether the PostgreSQL server answers (the benchmark skips that backend otherwise)."""
    try:
        with psycopg.connect(dsn, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def run_store_speed(
    bars: int = 1_500_000,
    on_progress: Callable[[str], None] | None = None,
    workdir: Path | None = None,
    dsn: str = POSTGRES_DSN,
) -> list[StoreSpeedRow]:
    """Measure every backend on the same `bars` bars; the CSV row comes first (the reference)."""
    say = on_progress or (lambda message: None)
    data = make_bars(bars)
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        root = Path(scratch)
        say(f"csv: writing and reading {bars:,} bars")
        csv = root / "bars.csv"
        csv_write = _timed(lambda: data.to_csv(csv, index=False))
        csv_read = _timed(lambda: pd.read_csv(csv, parse_dates=["timestamp"]))
        rows = [StoreSpeedRow("pandas CSV (reference)", bars, bars / csv_write, csv_read)]

        def measured(name: str, write: Callable[[], object], read: Callable[[], object]) -> StoreSpeedRow:
            say(f"{name}: writing and reading {bars:,} bars")
            written, read_seconds = _timed(write), _timed(read)
            read_speedup, write_speedup = csv_read / read_seconds, csv_write / written
            return StoreSpeedRow(
                name,
                bars,
                bars / written,
                read_seconds,
                read_speedup,
                write_speedup,
                read_speedup >= READ_TARGET,
                write_speedup >= WRITE_TARGET,
            )

        parquet = ParquetBarStore(root / "parquet")
        rows.append(measured("Parquet/DuckDB store", lambda: parquet.write(data), lambda: parquet.read("SYN")))
        if postgres_reachable(dsn):
            postgres = PostgresBarStore(dsn, table=f"bench_bars_{uuid.uuid4().hex[:12]}")
            try:
                rows.append(measured("PostgreSQL store", lambda: postgres.write(data), lambda: postgres.read("SYN")))
            finally:
                postgres.drop()
        else:
            say(f"PostgreSQL at {dsn} is unreachable: skipped")
    return rows


def _cells(row: StoreSpeedRow, markup: bool) -> list[str]:
    def ratio(value: float | None, target: float, passed: bool | None) -> str:
        if value is None or passed is None:
            return "reference"
        return f"{value:.1f}x (>= {target:g}x) {verdict(passed, markup)}"

    return [
        row.backend,
        f"{row.bars:,}",
        f"{row.write_bars_per_s:,.0f}",
        f"{row.read_seconds:.3f}",
        ratio(row.read_speedup, READ_TARGET, row.read_passed),
        ratio(row.write_speedup, WRITE_TARGET, row.write_passed),
    ]


COLUMNS = ("backend", "bars", "write bars/s", "read all (s)", "read vs read_csv", "write vs to_csv")


def table(rows: list[StoreSpeedRow]) -> Table:
    """The rich table of every backend, with the ratios against CSV and PASS/MISS."""
    result = Table(title="Bar store speed: write and read all bars of one symbol")
    for column in COLUMNS:
        result.add_column(column, justify="left" if column == "backend" else "right")
    for row in rows:
        result.add_row(*_cells(row, markup=True))
    return result


def markdown(rows: list[StoreSpeedRow]) -> str:
    """The same table in markdown, for results.md."""
    lines = ["", "## Bar store speed", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row, markup=False)) + " |" for row in rows]
    return "\n".join(lines) + "\n"

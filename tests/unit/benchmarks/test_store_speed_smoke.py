"""Smoke test of the store speed benchmark: it runs on a small table and reports positive numbers.
Speed itself is never asserted (see DESIGN.md)."""

from __future__ import annotations

import importlib
import io
import sys
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[3]


def test_store_speed_runs_and_reports(tmp_path: Path) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module = importlib.import_module("benchmarks.store_speed")
    messages: list[str] = []
    rows = module.run_store_speed(bars=20_000, on_progress=messages.append, workdir=tmp_path)
    assert rows[0].backend.startswith("pandas CSV") and rows[0].read_speedup is None
    assert any(row.backend.startswith("Parquet") for row in rows)
    for row in rows:
        assert row.bars == 20_000 and row.write_bars_per_s > 0 and row.read_seconds > 0
    for row in rows[1:]:
        assert row.read_speedup is not None and row.read_speedup > 0 and row.read_passed is not None
    output = io.StringIO()
    Console(file=output, width=200).print(module.table(rows))
    assert "Parquet/DuckDB store" in output.getvalue()
    text = module.markdown(rows)
    assert "| backend |" in text and len(text.splitlines()) == 5 + len(rows)
    assert messages
    assert not list(tmp_path.iterdir())

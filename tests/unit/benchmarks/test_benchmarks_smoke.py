"""Smoke test of the benchmark suite's speed part: it runs, every row is a positive rate, and the
results land in results.json and results.md. Speed itself is never asserted (see DESIGN.md)."""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bench_main() -> ModuleType:
    """`benchmarks.__main__`, importable from the project root whatever pytest's rootdir handling."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.__main__")


def test_speed_part_reports_positive_rates_and_writes_results(bench_main: ModuleType, tmp_path: Path) -> None:
    budget = bench_main.Budget(speed_seconds=0.05, speed_repeats=1, num_envs=64)
    output = io.StringIO()
    console = Console(file=output, width=160)
    results = bench_main.run(parts=("speed",), out=tmp_path, budget=budget, console=console)

    speed = results["speed"]
    keys = {row.key for row in speed.rows}
    expected = {"execution", "execution_unwrapped", "execution_vec", "execution_fine", "execution_fine_vec"}
    assert expected <= keys
    if importlib.util.find_spec("gym_anytrading") is not None:
        assert {"stocks", "stocks_unwrapped"} <= keys
        assert len(speed.ratios) == 8
    for row in speed.rows:
        assert row.steps_per_s > 0, row
        assert all(sample > 0 for sample in row.repeats), row
    for ratio in speed.ratios:
        assert ratio.value > 0, ratio

    written = json.loads((tmp_path / "results.json").read_text())
    assert written["settings"]["parts"] == ["speed"]
    assert written["machine"]["cpu_count"] >= 1
    assert {"python", "versions", "date"} <= set(written["machine"])
    assert [row["key"] for row in written["speed"]["rows"]] == [row.key for row in speed.rows]
    assert all(row["steps_per_s"] > 0 for row in written["speed"]["rows"])
    assert "training" not in written and "quality" not in written
    assert "| env | env steps/s |" in (tmp_path / "results.md").read_text()
    assert "Env speed" in output.getvalue()


def test_only_accepts_repeated_and_comma_separated_parts(bench_main: ModuleType) -> None:
    assert bench_main.parse_parts(None) == bench_main.PARTS
    assert bench_main.PARTS[:6] == ("speed", "training", "quality", "mm-quality", "store", "backtest")
    assert bench_main.parse_parts(["quality,speed"]) == ("speed", "quality")
    assert bench_main.parse_parts(["training", "speed"]) == ("speed", "training")
    assert bench_main.parse_parts(["mm-quality"]) == ("mm-quality",)
    with pytest.raises(SystemExit, match="unknown part"):
        bench_main.parse_parts(["sped"])

"""Smoke test of the day-trading benchmark parts on tiny budgets: both run through `python -m
benchmarks`' runner, produce rows, and land in results.json and results.md. Speed and learning
are never asserted (DESIGN.md); the exported policy's agreement with SB3 is (0 mismatches)."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from rich.console import Console

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT.parent / "shared" / "data" / "index-future-1min-2006.csv"


@pytest.fixture(scope="module")
def bench_main() -> ModuleType:
    """`benchmarks.__main__`, importable from the project root whatever pytest's rootdir handling."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.__main__")


def test_both_parts_run_on_a_tiny_budget_and_write_results(bench_main: ModuleType, tmp_path: Path) -> None:
    if not SAMPLE.is_file():
        pytest.skip(f"real sample not found at {SAMPLE}")
    torch.set_num_threads(1)
    budget = dataclasses.replace(
        bench_main.QUICK,
        daytrading_train_timesteps=512,
        daytrading_decisions=300,
        learning_seeds=(0, 1),
        learning_timesteps=6_144,
        learning_window=2,
        learning_workers=1,
    )
    output = io.StringIO()
    parts = ("daytrading-latency", "daytrading-learning")
    results = bench_main.run(parts=parts, out=tmp_path, budget=budget, console=Console(file=output, width=200))

    latency = results["daytrading_latency"]
    assert [row.calls for row in latency.rows] == [300] * 5
    assert all(0 < row.p50_us <= row.p99_us for row in latency.rows)
    assert latency.mismatches == 0 and latency.compared == 300
    assert latency.ratio == pytest.approx(latency.rows[-1].p99_us / latency.rows[0].p99_us)

    learning = results["daytrading_learning"]
    assert [row.algo for row in learning.rows] == ["maskable-ppo", "ppo"]
    for row in learning.rows:
        assert row.seeds == 2 and len(row.curves) == 2 and 0 <= row.reached <= 2
        assert all(curve.episodes >= 1 for curve in row.curves)  # 8 envs x 768 steps: days of 535-780 bars
        estimate = row.episodes_to_positive
        assert estimate.low <= estimate.value <= estimate.high
    assert learning.faster

    written = json.loads((tmp_path / "results.json").read_text())
    assert written["daytrading_latency"]["mismatches"] == 0
    assert len(written["daytrading_learning"]["rows"]) == 2
    markdown = (tmp_path / "results.md").read_text()
    assert "## Day-trading decision latency" in markdown and "## MaskablePPO vs PPO-with-penalty" in markdown
    assert "model.predict p99 / decision p99" in output.getvalue()


def test_episodes_to_positive_is_censored_and_counts_the_window(bench_main: ModuleType) -> None:
    from benchmarks.day_trading import episodes_to_positive

    assert episodes_to_positive([-1.0, -1.0, 3.0, 1.0], window=2) == 3  # means -1, 1, 2: first > 0 after 3 episodes
    assert episodes_to_positive([-1.0, 3.0], window=2) == 2
    assert episodes_to_positive([-1.0, -2.0, 0.0], window=2) is None  # never positive: censored
    assert episodes_to_positive([5.0], window=2) is None  # too few episodes for one window
    assert bench_main.parse_parts(["daytrading-learning,daytrading-latency"]) == parts_in_order(bench_main)


def parts_in_order(bench_main: ModuleType) -> tuple[str, ...]:
    return tuple(part for part in bench_main.PARTS if part.startswith("daytrading"))

"""The market-making desk as a cell: utility metrics against its baselines and per-episode PnL gains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tradebrain.experiments.cell import CellTask, execute_cell
from tradebrain.experiments.grid import expand
from tradebrain.experiments.spec import load_spec


def test_a_market_making_cell_measures_the_agent_against_its_baselines(
    make_spec: Callable[..., Path], tmp_path: Path
) -> None:
    base = {"train": {"timesteps": 1600, "n_envs": 8, "hyperparams": {"n_steps": 50, "batch_size": 200}},
            "evaluate": {"episodes": 20, "baselines": ["A-S inventory", "symmetric"]}}  # fmt: skip
    cell = expand(load_spec(make_spec(name="mm", desk="market-making", base=base)))[0]
    record = execute_cell(CellTask(cell, str(tmp_path / "cell"), write_report=False, tensorboard=False))
    assert record.completed, record.error
    metrics = record.metrics
    assert metrics["agent_minus_symmetric/utility"] == pytest.approx(
        metrics["agent/utility"] - metrics["symmetric/utility"]
    )
    assert set(record.improvements) == {"A-S inventory", "symmetric"}
    assert len(record.improvements["symmetric"]) == 20
    assert (tmp_path / "cell" / "trades.csv").is_file() and (tmp_path / "cell" / "model.zip").is_file()

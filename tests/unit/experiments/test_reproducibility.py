"""The same cell twice gives bit-identical metrics (one torch thread), and its record says how it ran."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tradebrain.experiments.cell import CellTask, execute_cell
from tradebrain.experiments.grid import expand
from tradebrain.experiments.spec import load_spec


def test_the_same_cell_twice_gives_identical_metrics(make_spec: Callable[..., Path], tmp_path: Path) -> None:
    cell = expand(load_spec(make_spec(base={"train": {"timesteps": 1024, "n_envs": 8,
                                                      "hyperparams": {"batch_size": 128}},
                                            "evaluate": {"episodes": 20}})))[0]  # fmt: skip
    first = execute_cell(CellTask(cell, str(tmp_path / "a"), write_report=False, tensorboard=True))
    second = execute_cell(CellTask(cell, str(tmp_path / "b"), write_report=False, tensorboard=False))
    assert first.completed, first.error
    assert first.metrics == second.metrics  # exact equality, TensorBoard logging or not
    assert first.improvements == second.improvements
    assert set(first.improvements) == {"TWAP", "AC-optimal", "VWAP", "sell-now"}
    assert first.metrics["agent_minus_TWAP/objective_usd"] == (
        first.metrics["agent/objective_usd"] - first.metrics["TWAP/objective_usd"]
    )
    for name in ("model.zip", "vecnormalize.pkl", "trades.csv", "daily.csv", "config.yaml"):
        assert (tmp_path / "a" / name).is_file(), name
    assert any((tmp_path / "a" / "tensorboard").rglob("events.out.tfevents.*"))
    versions = first.provenance["versions"]
    assert isinstance(versions, dict) and versions["torch"].startswith("2.")
    assert first.provenance["git_commit"]


def test_a_failing_cell_returns_a_failed_record(make_spec: Callable[..., Path], tmp_path: Path) -> None:
    cell = expand(load_spec(make_spec()))[0]
    broken = type(cell)(cell.desk, cell.values, cell.seed, {**cell.config, "train": {"algo": "nope"}},
                        cell.config_hash)  # fmt: skip
    record = execute_cell(CellTask(broken, str(tmp_path / "x")))
    assert record.status == "failed" and "unknown algorithm 'nope'" in (record.error or "")

"""The CLI end to end on tiny budgets: demo, then train + evaluate of a saved model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tradebrain.cli import app

runner = CliRunner()


def test_demo_json_trains_evaluates_and_writes_the_report(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--timesteps", "4000", "--episodes", "50", "--name", "tiny", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "tiny"
    assert data["episodes"] == 50
    assert set(data["policies"]) == {"TWAP", "AC-optimal", "VWAP", "sell-now", "PPO"}
    ppo = data["policies"]["PPO"]
    for metric in ("shortfall_usd", "shortfall_bps", "objective_usd", "savings_bps", "win_rate", "var5_savings_usd"):
        estimate = ppo[metric]
        assert estimate["low"] <= estimate["value"] <= estimate["high"], metric
    assert data["analysis"]["kappa"] > 0
    run_dir = tmp_path / "tiny"
    assert Path(data["report"]) == run_dir / "report.html"
    for name in ("report.html", "model.zip", "config.yaml", "metrics.json", "episodes.csv", "inventory.png"):
        assert (run_dir / name).is_file(), name


def test_train_then_evaluate_a_double_dqn_model(tmp_path: Path) -> None:
    config = tmp_path / "dqn.yaml"
    config.write_text("name: dqn-tiny\naction: discrete\ntrain:\n  algo: dqn\n  timesteps: 3000\n")
    trained = runner.invoke(app, ["execution", "train", "--config", str(config), "--out", str(tmp_path), "--json"])
    assert trained.exit_code == 0, trained.output
    model = json.loads(trained.stdout)["model"]
    assert Path(model).is_file()
    evaluated = runner.invoke(
        app, ["execution", "evaluate", "--model", model, "--config", str(config), "--episodes", "30", "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    policies = json.loads(evaluated.stdout)["policies"]
    assert "DQN" in policies and "TWAP" in policies
    assert policies["DQN"]["shortfall_usd"]["value"] > 0


def test_sac_needs_continuous_actions(tmp_path: Path) -> None:
    config = tmp_path / "sac.yaml"
    config.write_text("action: discrete\ntrain:\n  algo: sac\n")
    result = runner.invoke(app, ["execution", "train", "--config", str(config), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "needs continuous actions" in result.output

"""`tradebrain demo market-making` end to end on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tradebrain.cli import app


def test_demo_market_making_json_trains_evaluates_and_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "market-making", "--timesteps", "2000", "--episodes", "20", "--out", str(tmp_path), "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["policies"]) == {"A-S inventory", "symmetric", "GLFT", "PPO"}
    ppo = data["policies"]["PPO"]
    for metric in ("utility", "pnl_mean", "utility_minus_A-S inventory", "utility_minus_symmetric"):
        assert ppo[metric]["low"] <= ppo[metric]["value"] <= ppo[metric]["high"], metric
    run_dir = tmp_path / "market-making"
    for name in ("report.html", "model.zip", "config.yaml", "metrics.json", "episodes.csv", "quotes.png"):
        assert (run_dir / name).is_file(), name


def test_unknown_desk_suggests_the_closest() -> None:
    result = CliRunner().invoke(app, ["demo", "market-makin"])
    assert result.exit_code == 2
    assert "did you mean 'market-making'" in result.output

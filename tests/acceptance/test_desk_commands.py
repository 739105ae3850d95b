"""The generic commands work for every registered desk, end to end on tiny budgets: desks, train and
evaluate (a saved model with the normalisation saved beside it), the generic seeds study, and the
old per-desk command names as aliases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tradebrain.cli import app

runner = CliRunner()


def _json(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_desks_lists_the_three_desks_with_their_envs_and_baselines() -> None:
    desks = {desk["name"]: desk for desk in _json(["desks"])["desks"]}
    assert {"execution", "market-making", "daytrading"} <= set(desks)
    assert desks["market-making"]["aliases"] == ["mm", "market_making"]
    assert desks["execution"]["envs"] == ["tradebrain/Execution-v0"]
    assert "AC-optimal" in desks["execution"]["baselines"]
    listed = runner.invoke(app, ["desks"])
    assert listed.exit_code == 0 and "daytrading" in listed.output and "liquidate a block" in listed.output


def test_evaluate_uses_the_normalisation_saved_with_the_model(tmp_path: Path) -> None:
    """The demo and a later `evaluate` of its saved model report the same agent on the same episodes,
    also with observation normalisation on (the statistics travel in vecnormalize.pkl)."""
    demo = _json(["demo", "execution", "--timesteps", "3000", "--episodes", "40", "--name", "norm",
                  "--set", "train.normalize_obs=true", "--out", str(tmp_path)])  # fmt: skip
    model = tmp_path / "norm" / "model.zip"
    assert (tmp_path / "norm" / "vecnormalize.pkl").is_file()
    evaluated = _json(["evaluate", "execution", "--model", str(model), "--episodes", "40"])
    assert evaluated["policies"]["PPO"]["objective_usd"] == demo["policies"]["PPO"]["objective_usd"]
    assert evaluated["policies"]["TWAP"] == demo["policies"]["TWAP"]


def test_train_then_evaluate_a_market_maker_through_the_alias(tmp_path: Path) -> None:
    trained = _json(["train", "mm", "--timesteps", "2000", "--name", "mm", "--out", str(tmp_path)])
    assert Path(trained["model"]).is_file() and (tmp_path / "mm" / "config.yaml").is_file()
    evaluated = _json(["market-making", "evaluate", "--model", trained["model"], "--episodes", "20"])
    assert set(evaluated["policies"]) == {"A-S inventory", "symmetric", "GLFT", "PPO"}
    assert evaluated["episodes"] == 20


def test_train_then_evaluate_a_day_trader_on_its_test_sessions(tmp_path: Path) -> None:
    trained = _json(["train", "daytrading", "--timesteps", "1024", "--name", "dt", "--out", str(tmp_path)])
    folder = tmp_path / "dt"
    assert {"model.zip", "vecnormalize.pkl", "policy.npz", "config.yaml"} <= {p.name for p in folder.iterdir()}
    from_zip = _json(["evaluate", "daytrading", "--model", trained["model"]])
    from_npz = _json(["evaluate", "daytrading", "--model", str(folder / "policy.npz")])
    assert from_zip["sessions"] == 11 and set(from_zip["policies"]) == {"maskable-ppo", "buy-and-hold"}
    # the exported policy decides exactly as the model with its normalisation
    assert from_npz["policies"]["maskable-ppo"] == from_zip["policies"]["maskable-ppo"]


def test_the_generic_study_trains_several_seeds_and_writes_a_rerunnable_spec(tmp_path: Path) -> None:
    args = ["study", "execution", "--seeds", "2", "--timesteps", "1500", "--episodes", "20", "--workers", "1",
            "--set", "train.n_envs=8", "--set", "train.hyperparams={batch_size: 40}", "--name", "st",
            "--out", str(tmp_path)]  # fmt: skip
    data = _json(args)
    assert data["completed"] == 2 and data["failed"] == 0
    assert (tmp_path / "st" / "spec.yaml").is_file() and (tmp_path / "st" / "summary.html").is_file()
    again = _json(["run", str(tmp_path / "st" / "spec.yaml"), "--runs-root", str(tmp_path), "--no-tracking"])
    assert again["skipped"] == 2  # the spec resumes: nothing left to run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "daytrading", "--episodes", "10"], "--episodes does not apply to the daytrading desk"),
        (["demo", "exectuion"], "did you mean 'execution'"),
        (["train", "execution", "--set", "task.risk_aversoin=1e-6"], "did you mean 'risk_aversion'"),
        (["train", "execution", "--set", "task.steps"], "give KEY=VALUE"),
        (["evaluate", "execution", "--model", "missing.zip"], "does not exist"),
        (["study", "execution", "--seeds", "0"], "--seeds"),
    ],
)
def test_bad_input_is_a_clean_error(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path)] if args[0] in ("demo", "train") else args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_corrupt_model_is_a_clean_error(tmp_path: Path) -> None:
    model = tmp_path / "model.zip"
    model.write_bytes(b"not a zip")
    result = runner.invoke(app, ["evaluate", "execution", "--model", str(model)])
    assert result.exit_code == 2
    assert "is not a ppo model saved by stable-baselines3" in result.output


def test_config_show_resolves_any_desk() -> None:
    result = runner.invoke(app, ["config", "show", "market-making"])
    assert result.exit_code == 0 and "glft_bound" in result.output

"""`tradebrain run` and `tradebrain tune` end to end on tiny budgets: a 2 x 2 x 3 execution grid on
local workers with resume after a partial run, the Ray backend giving the same metrics as the local
one, and a 10-trial tuning run with pruning whose best parameters `run --use-best` picks up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from tradebrain.cli import app

runner = CliRunner()
torch.set_num_threads(1)
TINY = {"train": {"timesteps": 1500, "n_envs": 8, "hyperparams": {"batch_size": 128}}, "evaluate": {"episodes": 30}}
GRID = {"train.algo": ["ppo", "sac"], "task.risk_aversion": [1e-6, 2e-6]}


def _spec(folder: Path, name: str, **fields: Any) -> Path:
    data = {"name": name, "desk": "execution", "base": TINY, "seeds": [0], "write_report": False, **fields}
    path = folder / f"{name}-{len(list(folder.glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _run(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["run", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_a_grid_runs_resumes_after_a_partial_run_and_is_tracked(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    partial = _spec(tmp_path, "grid", grid=GRID, seeds=[0])  # as if the full run had been killed after seed 0
    first = _run(str(partial), "--runs-root", str(runs), "--workers", "2")
    assert first["completed"] == 4 and first["failed"] == 0
    full = _spec(tmp_path, "grid", grid=GRID, seeds=[0, 1, 2], tensorboard=True)
    second = _run(str(full), "--runs-root", str(runs), "--workers", "2")
    assert second["skipped"] == 4 and second["completed"] == 12 and second["failed"] == 0
    first_metrics = {cell["key"]: cell["metrics"] for cell in first["cells"]}
    again = [cell for cell in second["cells"] if cell["key"] in first_metrics]
    assert len(again) == 4  # the first run's cells are part of the full grid
    for cell in again:
        assert cell["metrics"] == first_metrics[cell["key"]]  # skipped, not recomputed
    configurations = second["configurations"]
    assert [c["label"] for c in configurations] == [
        "train.algo=ppo, task.risk_aversion=1e-06", "train.algo=ppo, task.risk_aversion=2e-06",
        "train.algo=sac, task.risk_aversion=1e-06", "train.algo=sac, task.risk_aversion=2e-06",
    ]  # fmt: skip
    for configuration in configurations:
        stat = configuration["metrics"]["agent/objective_usd"]
        assert stat["n"] == 3 and stat["low"] <= stat["mean"] <= stat["high"]
        poi = configuration["probability_of_improvement"]["TWAP"]
        assert 0 <= poi["low"] <= poi["value"] <= poi["high"] <= 1
    root = runs / "grid"
    assert "Against the baselines" in (root / "summary.html").read_text()
    assert len((root / "results.csv").read_text().splitlines()) == 13
    client = MlflowClient(f"sqlite:///{runs.resolve()}/mlflow.db")
    experiment = client.get_experiment_by_name("grid")
    assert experiment is not None
    sac_runs = client.search_runs([experiment.experiment_id], filter_string="tags.`grid.train.algo` = 'sac'")
    assert len(sac_runs) == 6
    assert {run.data.tags["seed"] for run in sac_runs} == {"0", "1", "2"}
    assert len(client.search_runs([experiment.experiment_id])) == 12  # one run per cell, none repeated


def test_ray_and_local_backends_give_identical_metrics(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "backends", grid={"train.algo": ["ppo", "sac"]}, seeds=[0], tensorboard=False)
    local = _run(str(spec), "--runs-root", str(tmp_path / "local"), "--no-tracking")
    ray = _run(str(spec), "--runs-root", str(tmp_path / "ray"), "--no-tracking", "--backend", "ray")
    assert local["completed"] == ray["completed"] == 2
    assert {c["key"]: c["metrics"] for c in local["cells"]} == {c["key"]: c["metrics"] for c in ray["cells"]}


def test_tuning_prunes_trials_saves_the_best_and_run_uses_it(tmp_path: Path) -> None:
    space = {
        "train.hyperparams.learning_rate": {"type": "float", "low": 1e-5, "high": 3e-3, "log": True},
        "train.hyperparams.n_steps": {"type": "categorical", "choices": [8, 16, 32]},
    }
    tune = {"space": space, "eval_every": 512, "eval_episodes": 20, "startup_trials": 3}
    # batch_size 64 divides every rollout (n_steps x 8 envs = 64, 128 or 256): no truncated mini-batch
    base = {**TINY, "train": {**TINY["train"], "timesteps": 2048, "hyperparams": {"batch_size": 64}}}
    spec = _spec(tmp_path, "tune", base=base, tune=tune, tensorboard=False)
    result = runner.invoke(app, ["tune", str(spec), "--trials", "10", "--runs-root", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["complete"] + data["pruned"] == 10 and data["failed"] == 0
    assert data["pruned"] >= 1
    best = yaml.safe_load(spec.with_name(f"{spec.stem}.best.yaml").read_text())
    assert best["params"] == data["best_params"] and set(best["params"]) == set(space)
    used = _run(str(spec), "--runs-root", str(tmp_path / "runs"), "--use-best", "--no-tracking")
    assert used["completed"] == 1
    cell_config = yaml.safe_load((Path(used["cells"][0]["out_dir"]) / "config.yaml").read_text())
    assert cell_config["train"]["hyperparams"]["learning_rate"] == best["params"]["train.hyperparams.learning_rate"]
    assert cell_config["train"]["hyperparams"]["n_steps"] == best["params"]["train.hyperparams.n_steps"]


def test_a_bad_spec_exits_2_with_the_fix(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "bad", grid={"train.algorithm": ["ppo"]})
    result = runner.invoke(app, ["run", str(spec), "--runs-root", str(tmp_path)])
    assert result.exit_code == 2
    assert "did you mean 'train.algo'" in result.output
    missing = runner.invoke(app, ["run", str(spec), "--use-best", "--runs-root", str(tmp_path)])
    assert missing.exit_code == 2
    unknown = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert unknown.exit_code == 2 and "does not exist" in unknown.output


@pytest.mark.slow
def test_the_example_grid_gives_identical_metrics_on_local_and_ray(tmp_path: Path) -> None:
    spec = Path(__file__).parents[2] / "experiments" / "execution-grid.yaml"
    local = _run(str(spec), "--runs-root", str(tmp_path / "local"), "--no-tracking")
    ray = _run(str(spec), "--runs-root", str(tmp_path / "ray"), "--no-tracking", "--backend", "ray")
    assert local["completed"] == ray["completed"] == 12
    assert {c["key"]: c["metrics"] for c in local["cells"]} == {c["key"]: c["metrics"] for c in ray["cells"]}

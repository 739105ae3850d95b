"""MLflow tracking: one experiment per spec, one run per cell, grid values as tags, artifacts logged."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from tradebrain.experiments.store import CellRecord
from tradebrain.experiments.tracking import Tracker, default_tracking_uri, flatten


def test_flatten_gives_dotted_keys() -> None:
    assert dict(flatten({"train": {"algo": "ppo", "hyperparams": {}}, "name": "x"})) == {
        "train.algo": "ppo", "train.hyperparams": {}, "name": "x",
    }  # fmt: skip


def test_a_cell_becomes_a_run_with_tags_params_metrics_and_artifacts(tmp_path: Path) -> None:
    out = tmp_path / "cell"
    out.mkdir()
    (out / "trades.csv").write_text("episode,interval\n0,0\n")
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    tracker = Tracker(uri, "spec-a", tmp_path / "mlartifacts")
    record = CellRecord(
        key="abc-seed2", config_hash="abc", seed=2, values={"train.algo": "sac", "task.risk_aversion": 2e-6},
        status="completed", metrics={"agent/objective_usd": 12.5}, out_dir=str(out),
        provenance={"git_commit": "deadbeef", "versions": {"torch": "2.13.0"}},
    )  # fmt: skip
    run_id = tracker.log_cell(record, {"train": {"algo": "sac", "seed": 2}, "task": {"risk_aversion": 2e-6}})
    assert Tracker(uri, "spec-a").experiment_id == tracker.experiment_id  # one experiment per spec, reused
    client = MlflowClient(uri)
    runs = client.search_runs([tracker.experiment_id], filter_string="tags.`grid.train.algo` = 'sac'")
    assert [run.info.run_id for run in runs] == [run_id]
    run = runs[0]
    assert run.info.run_name == "abc-seed2" and run.info.status == "FINISHED"
    assert run.data.tags["grid.task.risk_aversion"] == "2e-06" and run.data.tags["seed"] == "2"
    assert run.data.tags["git_commit"] == "deadbeef" and run.data.tags["version.torch"] == "2.13.0"
    assert run.data.params["train.algo"] == "sac"
    assert run.data.metrics["agent/objective_usd"] == 12.5
    assert [artifact.path for artifact in client.list_artifacts(run_id)] == ["trades.csv"]

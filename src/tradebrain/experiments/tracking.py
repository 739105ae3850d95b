"""MLflow tracking: one experiment per spec, one run per cell, with the grid values, seed, config
hash, git commit and package versions as tags, the resolved config as params, the cell's metrics,
and its folder (model, VecNormalize stats, trade list, daily breakdown, report, TensorBoard logs)
as artifacts. Runs are logged from the coordinating process only: one writer for the store."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tradebrain.core.extras import require
from tradebrain.experiments.store import CellRecord

TRACKING = "MLflow tracking (turn it off with --no-tracking)"

PARAM_LIMIT = 100
"""MLflow accepts at most 100 params per batch call."""
VALUE_LIMIT = 5000
"""Params and tags are cut to this many characters (MLflow's limits are 6000 and 8000)."""


def default_tracking_uri(runs_root: Path) -> str:
    """A SQLite store under the runs folder (the plain ./mlruns file store is deprecated in MLflow 3)."""
    return f"sqlite:///{(runs_root / 'mlflow.db').resolve()}"


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested mappings as dotted keys: {"train": {"algo": "ppo"}} -> ("train.algo", "ppo")."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def cell_tags(record: CellRecord, spec_name: str) -> dict[str, str]:
    """Tags to filter and group runs by in MLflow: grid values, seed, hash, commit, versions, status."""
    tags = {f"grid.{key}": str(value) for key, value in record.values.items()}
    tags |= {
        "spec": spec_name, "cell_key": record.key, "seed": str(record.seed), "config_hash": record.config_hash,
        "status": record.status, "git_commit": str(record.provenance.get("git_commit", "unknown")),
    }  # fmt: skip
    versions = record.provenance.get("versions", {})
    tags |= {f"version.{name}": str(version) for name, version in versions.items()}
    if record.error:
        tags["error"] = record.error
    return {key: value[:VALUE_LIMIT] for key, value in tags.items()}


class Tracker:
    """Logs cells of one experiment to an MLflow tracking server or store (any tracking URI)."""

    def __init__(self, tracking_uri: str, experiment: str, artifact_root: Path | None = None) -> None:
        require("mlflow", TRACKING)
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id: str = found.experiment_id
        else:
            location = (artifact_root / experiment).resolve().as_uri() if artifact_root is not None else None
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        self.experiment = experiment

    def log_cell(self, record: CellRecord, config: Mapping[str, Any]) -> str:
        """One run for the cell: tags, params (the resolved config), metrics, artifacts. Its id."""
        from mlflow.entities import Metric, Param

        run = self.client.create_run(self.experiment_id, run_name=record.key, tags=cell_tags(record, self.experiment))
        run_id: str = run.info.run_id
        params = [Param(key, str(value)[:VALUE_LIMIT]) for key, value in flatten(config)]
        for start in range(0, len(params), PARAM_LIMIT):
            self.client.log_batch(run_id, params=params[start : start + PARAM_LIMIT])
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, 0) for key, value in record.metrics.items()]
        metrics.append(Metric("cell_seconds", record.seconds, now, 0))
        self.client.log_batch(run_id, metrics=metrics)
        folder = Path(record.out_dir)
        if record.completed and folder.is_dir():
            self.client.log_artifacts(run_id, str(folder))
        self.client.set_terminated(run_id, status="FINISHED" if record.completed else "FAILED")
        return run_id

    def log_series(self, run_id: str, name: str, points: list[tuple[int, float]]) -> None:
        """A metric per evaluation (step = training steps so far), e.g. a tuning trial's curve."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(name, value, now, step) for step, value in points])

"""Optuna tuning with the study in PostgreSQL (how several machines tune one study): 10 trials with
pruning against the machine's server, the best parameters saved, the study readable by another client."""

from __future__ import annotations

import uuid
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from tradebrain.experiments.spec import load_spec
from tradebrain.experiments.tuning import load_best, storage_url, tune

pytestmark = pytest.mark.integration
torch.set_num_threads(1)


def test_a_study_in_postgresql_prunes_and_saves_the_best(postgres_dsn: str, tmp_path: Path) -> None:
    spec = {
        "name": "pg-tune", "desk": "execution", "seeds": [0], "tensorboard": False, "write_report": False,
        "base": {"train": {"timesteps": 2048, "n_envs": 8, "hyperparams": {"batch_size": 128}}},
        "tune": {
            "eval_every": 512, "eval_episodes": 20, "startup_trials": 3,
            "space": {"train.hyperparams.learning_rate": {"type": "float", "low": 1e-5, "high": 3e-3, "log": True}},
        },
    }  # fmt: skip
    path = tmp_path / "pg-tune.yaml"
    path.write_text(yaml.safe_dump(spec))
    loaded = load_spec(path)
    study = f"tradebrain-test-{uuid.uuid4().hex[:12]}"
    try:
        result = tune(loaded, tmp_path / "runs", trials=10, storage=postgres_dsn, study_name=study, tracking_uri=None)
        assert result.count("COMPLETE") + result.count("PRUNED") == 10
        assert result.count("PRUNED") >= 1
        assert load_best(loaded) == result.best_params
        shared = optuna.load_study(study_name=study, storage=storage_url(postgres_dsn))  # as another machine would
        assert len(shared.trials) == 10 and shared.best_value == result.best_value
    finally:
        optuna.delete_study(study_name=study, storage=storage_url(postgres_dsn))

"""Each desk's `evaluate` checks a saved agent against the env its config makes before scoring it: a
model trained on other observations, or named with another algorithm, is a clean InputError that
says which config to use; the desk's whole run config is hashed into the model's manifest."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from tradebrain.core.config import with_updates
from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.desk import DESK as DAY_TRADING
from tradebrain.desks.day_trading.experiment import DayTradingExperimentConfig
from tradebrain.desks.day_trading.observer import observation_size
from tradebrain.desks.execution.desk import DESK as EXECUTION
from tradebrain.desks.execution.study import EvaluateConfig, ExecutionDeskConfig
from tradebrain.desks.market_making.desk import DESK as MARKET_MAKING
from tradebrain.desks.market_making.study import MarketMakingDeskConfig
from tradebrain.rl.export import ExportedPolicy
from tradebrain.rl.manifest import config_digest, read_manifest
from tradebrain.rl.training import TrainConfig

TINY = TrainConfig(timesteps=64, n_envs=4, net_arch=(8,), hyperparams={"n_steps": 16, "batch_size": 32, "n_epochs": 1})


@pytest.fixture(scope="module")
def execution_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExecutionDeskConfig, Path]:
    torch.set_num_threads(1)
    config = ExecutionDeskConfig(train=TINY, evaluate=EvaluateConfig(episodes=10))
    folder = tmp_path_factory.mktemp("execution")
    agent = EXECUTION.train(config, folder, progress=False)
    assert agent.path is not None
    return config, agent.path


def test_the_run_config_hash_travels_with_the_model(execution_run: tuple[ExecutionDeskConfig, Path]) -> None:
    config, model = execution_run
    manifest = read_manifest(model)
    assert manifest is not None
    assert manifest.run_config_sha256 == config_digest(config)
    assert manifest.train_config_sha256 == config_digest(config.train)
    assert EXECUTION.evaluate(config, model, progress=False).as_dict()["episodes"] == 10


def test_execution_refuses_a_config_of_other_observations(execution_run: tuple[ExecutionDeskConfig, Path]) -> None:
    config, model = execution_run
    longer = with_updates(config, {"market.lookback": config.market.lookback + 2})
    with pytest.raises(InputError, match=r"trained on observations of shape \(\d+,\), this config makes \(\d+,\)"):
        EXECUTION.evaluate(longer, model, progress=False)


def test_execution_refuses_another_algorithm(execution_run: tuple[ExecutionDeskConfig, Path]) -> None:
    config, model = execution_run
    sac = with_updates(config, {"train.algo": "sac", "train.hyperparams": {}})
    with pytest.raises(InputError, match=r"--algo sac but .* is a ppo model; drop --algo or pass --algo ppo"):
        EXECUTION.evaluate(sac, model, progress=False)


def test_market_making_refuses_an_execution_model(execution_run: tuple[ExecutionDeskConfig, Path]) -> None:
    _, model = execution_run
    config = MarketMakingDeskConfig.model_validate({"evaluate": {"episodes": 10}})
    with pytest.raises(InputError, match=r"the model .* was trained on (observations|actions)"):
        MARKET_MAKING.evaluate(config, model, progress=False)


def test_day_trading_refuses_an_exported_policy_of_other_features(tmp_path: Path) -> None:
    config = DayTradingExperimentConfig()
    inputs = observation_size(config.env) + 1
    sizes = (inputs, 8, 3)
    rng = np.random.default_rng(0)
    weights = tuple(rng.normal(size=(a, b)) for a, b in itertools.pairwise(sizes))
    biases = tuple(np.zeros(b) for b in sizes[1:])
    path = ExportedPolicy(weights, biases, "tanh", None, None, 10.0, 1e-8, "discrete", "odd").save(
        tmp_path / "policy.npz"
    )
    with pytest.raises(InputError, match=rf"observations of shape \({inputs},\), this config makes \({inputs - 1},\)"):
        DAY_TRADING.evaluate(config, path, progress=False)

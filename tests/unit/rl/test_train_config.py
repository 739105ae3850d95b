"""TrainConfig checks hyperparameters and layer widths when the config loads: each bad value is a
ConfigError naming the key (through describe_validation_error: "'train.hyperparams': ..."), before
any env is built or any step trained; every desk's own defaults pass the same checks."""

from __future__ import annotations

from typing import Any

import pytest

from tradebrain.core.config import build_config
from tradebrain.core.errors import ConfigError
from tradebrain.desks.day_trading.study import DayTradingDeskConfig
from tradebrain.desks.day_trading.study import algorithm_defaults as day_trading_defaults
from tradebrain.desks.execution.study import ExecutionDeskConfig
from tradebrain.desks.execution.study import algorithm_defaults as execution_defaults
from tradebrain.desks.market_making.study import MarketMakingDeskConfig
from tradebrain.desks.market_making.study import algorithm_defaults as market_making_defaults
from tradebrain.rl.registry import get_algorithm
from tradebrain.rl.training import TrainConfig, train_agent

ACTION = {"ppo": "continuous", "sac": "continuous", "dqn": "discrete"}


def _load(algo: str, **train: Any) -> ExecutionDeskConfig:
    """An execution desk config with `train` keys, built as a YAML file would be."""
    data = {"action": ACTION[algo], "train": {"algo": algo, **train}}
    return build_config(ExecutionDeskConfig, data, source="run.yaml", environ={})


BAD_HYPERPARAMETERS = [
    ("ppo", "learning_rate", -0.1, "> 0"),
    ("ppo", "learning_rate", 0.0, "> 0"),
    ("ppo", "gamma", 1.5, r"in \(0, 1\]"),
    ("ppo", "gamma", 0.0, r"in \(0, 1\]"),
    ("ppo", "gae_lambda", 1.01, r"in \[0, 1\]"),
    ("ppo", "n_steps", 0, ">= 1"),
    ("ppo", "n_steps", 2.5, "an integer"),
    ("ppo", "batch_size", 0, ">= 2"),
    ("ppo", "batch_size", 1, ">= 2"),
    ("ppo", "n_epochs", 0, ">= 1"),
    ("ppo", "ent_coef", -0.01, ">= 0"),
    ("ppo", "ent_coef", "auto", ">= 0"),
    ("ppo", "vf_coef", -1.0, ">= 0"),
    ("ppo", "clip_range", 0.0, "> 0"),
    ("ppo", "max_grad_norm", 0.0, "> 0"),
    ("ppo", "target_kl", -0.5, "> 0"),
    ("ppo", "learning_rate", "fast", "a number"),
    ("ppo", "n_steps", True, "an integer"),
    ("sac", "buffer_size", 0, ">= 1"),
    ("sac", "learning_starts", -1, ">= 0"),
    ("sac", "tau", 0.0, r"in \(0, 1\]"),
    ("sac", "tau", 1.5, r"in \(0, 1\]"),
    ("sac", "batch_size", 0, ">= 1"),
    ("sac", "gradient_steps", 0, r">= 1 \(or -1\)"),
    ("sac", "ent_coef", "often", "or 'auto'"),
    ("dqn", "train_freq", 0, ">= 1"),
    ("dqn", "target_update_interval", 0, ">= 1"),
    ("dqn", "exploration_fraction", 1.5, r"in \[0, 1\]"),
    ("dqn", "exploration_initial_eps", -0.1, r"in \[0, 1\]"),
    ("dqn", "exploration_final_eps", 2.0, r"in \[0, 1\]"),
]


@pytest.mark.parametrize(("algo", "key", "value", "rule"), BAD_HYPERPARAMETERS)
def test_a_hyperparameter_out_of_range_fails_at_load_naming_it(algo: str, key: str, value: Any, rule: str) -> None:
    with pytest.raises(ConfigError, match=rf"run\.yaml(.|\n)*'train\.hyperparams': '{key}' must be .*{rule}"):
        _load(algo, hyperparams={key: value})


@pytest.mark.parametrize(
    ("algo", "key", "message"),
    [
        ("ppo", "learnig_rate", "'learnig_rate' is not a ppo hyperparameter; did you mean 'learning_rate'?"),
        ("ppo", "exploration_fraction", "'exploration_fraction' is not a ppo hyperparameter (valid: batch_size,"),
        ("dqn", "n_epochs", "'n_epochs' is not a dqn hyperparameter"),
        ("ppo", "seed", "may not set 'seed': set train.seed instead"),
        ("ppo", "n_envs", "may not set 'n_envs': set train.n_envs instead"),
        ("sac", "device", "may not set 'device'"),
    ],
)
def test_a_key_the_algorithm_does_not_take_fails_at_load(algo: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"'train\.hyperparams': ") as error:
        _load(algo, hyperparams={key: 1})
    assert message in str(error.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        _load("ppo", hyperparams={"gamma": 2.0, "learnig_rate": 1e-3, "n_epochs": 0})
    assert all(key in str(error.value) for key in ("'gamma'", "'learnig_rate'", "'n_epochs'"))


@pytest.mark.parametrize("widths", [[0, 64], [64, -3], [0]])
def test_a_layer_without_units_fails_at_load(widths: list[int]) -> None:
    with pytest.raises(ConfigError, match=r"'train\.net_arch': every layer width must be >= 1 \(layer \d has"):
        _load("ppo", net_arch=widths)


def test_valid_edges_and_numbers_written_as_strings_load() -> None:
    ppo = _load("ppo", net_arch=[], hyperparams={"gamma": 1.0, "gae_lambda": 0, "learning_rate": "3e-4", "n_steps": 16})
    assert ppo.train.net_arch == ()  # no hidden layer: a linear policy
    assert ppo.train.hyperparams == {"gamma": 1.0, "gae_lambda": 0.0, "learning_rate": 3e-4, "n_steps": 16}
    assert isinstance(ppo.train.hyperparams["learning_rate"], float)  # YAML reads 3e-4 as a string
    sac = _load("sac", hyperparams={"ent_coef": "auto_0.1", "gradient_steps": -1, "learning_starts": 0, "tau": 1})
    assert sac.train.hyperparams["ent_coef"] == "auto_0.1"
    dqn = _load("dqn", hyperparams={"exploration_final_eps": 0.0, "train_freq": 4, "tensorboard_log": "tb"})
    assert dqn.train.hyperparams["train_freq"] == 4


def test_changing_the_algorithm_rechecks_the_hyperparameters() -> None:
    from tradebrain.core.config import with_updates

    config = _load("ppo", hyperparams={"n_epochs": 3})
    with pytest.raises(ConfigError, match="'n_epochs' is not a sac hyperparameter"):
        with_updates(config, {"train.algo": "sac"})


def test_an_unknown_algorithm_is_reported_alone() -> None:
    with pytest.raises(ConfigError) as error:
        build_config(ExecutionDeskConfig, {"train": {"algo": "ppoo", "hyperparams": {"n_epochs": 3}}}, environ={})
    assert "did you mean 'ppo'" in str(error.value) and "n_epochs" not in str(error.value)


@pytest.mark.parametrize(
    ("config", "defaults"),
    [
        *[(ExecutionDeskConfig(action=ACTION[a], train=TrainConfig(algo=a)), execution_defaults) for a in ACTION],
        (ExecutionDeskConfig(action="discrete"), execution_defaults),
        *[(MarketMakingDeskConfig(train=TrainConfig(algo=a)), market_making_defaults) for a in ("ppo", "sac")],
        *[(DayTradingDeskConfig(train=TrainConfig(algo=a)), day_trading_defaults) for a in ("maskable-ppo", "ppo")],
    ],
)
def test_every_desks_defaults_pass_the_checks(config: Any, defaults: Any) -> None:
    values = {key: value for key, value in defaults(config).items() if key not in ("n_envs", "policy_kwargs")}
    assert get_algorithm(config.train.algo).check_hyperparams(values).keys() == values.keys()


def test_bad_desk_defaults_fail_before_any_env_is_built() -> None:
    def no_env(n: int) -> Any:
        raise AssertionError("the env must not be built")

    with pytest.raises(ConfigError, match="the desk's default hyperparameters for ppo: 'gamma' must be"):
        train_agent(no_env, "continuous", TrainConfig(timesteps=8), {"gamma": 2.0}, progress=False)

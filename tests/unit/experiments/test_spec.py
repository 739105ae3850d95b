"""Spec validation: unknown keys and bad grid keys are rejected with a did-you-mean hint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tradebrain.core.errors import ConfigError
from tradebrain.desks.execution.study import ExecutionDeskConfig
from tradebrain.experiments.spec import check_dotted_key, load_spec


def test_a_valid_spec_resolves_its_base_config(spec_file: Path) -> None:
    loaded = load_spec(spec_file)
    assert isinstance(loaded.base_config, ExecutionDeskConfig)
    assert loaded.base_config.train.timesteps == 1500
    assert loaded.base_config.name == "tiny"  # the desk's run name follows the experiment
    assert loaded.best_path == spec_file.with_name("tiny.best.yaml")


def test_an_unknown_spec_key_suggests_the_closest(make_spec: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'seed'; did you mean 'seeds'"):
        load_spec(make_spec(seed=[1]))


def test_an_unknown_desk_suggests_the_closest(make_spec: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"unknown desk 'executon'; did you mean 'execution'"):
        load_spec(make_spec(desk="executon"))


def test_a_bad_grid_key_names_the_closest_config_field(make_spec: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"'train.algorithm' is not a config field; did you mean 'train.algo'"):
        load_spec(make_spec(grid={"train.algorithm": ["ppo"]}))
    with pytest.raises(ConfigError, match=r"did you mean 'task.risk_aversion'"):
        load_spec(make_spec(grid={"task.risk_aversio": [1e-6]}))


def test_grid_keys_may_go_into_hyperparameters_but_not_into_a_value() -> None:
    check_dotted_key(ExecutionDeskConfig, "train.hyperparams.learning_rate", "grid")
    with pytest.raises(ConfigError, match="which is a value"):
        check_dotted_key(ExecutionDeskConfig, "train.timesteps.max", "grid")
    with pytest.raises(ConfigError, match="names a whole section"):
        check_dotted_key(ExecutionDeskConfig, "train", "grid")


def test_seeds_belong_in_seeds_not_in_the_grid(make_spec: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match="put training seeds in 'seeds'"):
        load_spec(make_spec(grid={"train.seed": [0, 1]}))


def test_an_unknown_base_key_is_rejected_with_a_hint(make_spec: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'train.timestep'; did you mean 'timesteps'"):
        load_spec(make_spec(base={"train": {"timestep": 10}}))


def test_search_ranges_are_checked(make_spec: Callable[..., Path]) -> None:
    bad = {"space": {"train.hyperparams.learning_rate": {"type": "float", "low": 0.0, "high": 1e-3, "log": True}}}
    with pytest.raises(ConfigError, match="log-scaled parameter needs low > 0"):
        load_spec(make_spec(tune=bad))
    typo = {"space": {"train.hyperparam.learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3}}}
    with pytest.raises(ConfigError, match=r"did you mean 'train\.hyperparams'"):
        load_spec(make_spec(tune=typo))

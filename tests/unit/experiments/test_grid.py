"""Grid expansion and the config hash a re-run uses to recognise completed cells."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tradebrain.core.config import with_updates
from tradebrain.core.errors import ConfigError
from tradebrain.experiments.grid import config_hash, expand
from tradebrain.experiments.spec import load_spec


def test_every_combination_times_every_seed_in_spec_order(spec_file: Path) -> None:
    cells = expand(load_spec(spec_file))
    assert len(cells) == 2 * 2 * 2
    assert [(c.values["train.algo"], c.values["task.risk_aversion"], c.seed) for c in cells[:3]] == [
        ("ppo", 1e-6, 0), ("ppo", 1e-6, 1), ("ppo", 2e-6, 0),
    ]  # fmt: skip
    sac = cells[-1]
    assert sac.config["train"]["algo"] == "sac" and sac.config["task"]["risk_aversion"] == 2e-6
    assert sac.config["train"]["seed"] == 1
    assert sac.key == f"{sac.config_hash}-seed1"
    assert len({c.key for c in cells}) == len(cells)


def test_seeds_share_a_config_hash_and_grid_values_do_not(spec_file: Path) -> None:
    cells = expand(load_spec(spec_file))
    assert cells[0].config_hash == cells[1].config_hash  # seed 0 and 1 of one configuration
    assert len({c.config_hash for c in cells}) == 4


def test_the_hash_is_stable_across_loads_and_key_order(spec_file: Path, make_spec: Callable[..., Path]) -> None:
    first = [c.key for c in expand(load_spec(spec_file))]
    again = [c.key for c in expand(load_spec(spec_file))]
    assert first == again
    config = load_spec(spec_file).base_config
    assert config_hash(config) == config_hash(with_updates(config, {"train.seed": 7}))
    assert config_hash(config) != config_hash(with_updates(config, {"train.timesteps": 1501}))
    assert len(config_hash(config)) == 12


def test_extra_updates_apply_before_the_grid(spec_file: Path) -> None:
    cells = expand(load_spec(spec_file), {"train.hyperparams.learning_rate": 1e-4})
    assert all(c.config["train"]["hyperparams"]["learning_rate"] == 1e-4 for c in cells)
    assert cells[0].config_hash != expand(load_spec(spec_file))[0].config_hash


def test_an_invalid_grid_cell_is_reported_with_its_values(make_spec: Callable[..., Path]) -> None:
    loaded = load_spec(make_spec(grid={"task.risk_aversion": [1e-6, -1.0]}))
    with pytest.raises(ConfigError, match=r"grid cell \{'task.risk_aversion': -1.0\} is not a valid config"):
        expand(loaded)

from __future__ import annotations

import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO, SAC

from tradebrain.core.errors import ConfigError
from tradebrain.rl.double_dqn import DoubleDQN
from tradebrain.rl.registry import get_algorithm


def test_known_algorithms_map_to_sb3_classes() -> None:
    assert get_algorithm("ppo").cls is PPO
    assert get_algorithm("SAC").cls is SAC
    assert get_algorithm("dqn").cls is DoubleDQN


def test_unknown_algorithm_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'ppo'"):
        get_algorithm("ppoo")


def test_action_kind_mismatch_says_how_to_fix() -> None:
    with pytest.raises(ConfigError, match="action: discrete"):
        get_algorithm("dqn").check_action_kind("continuous")
    with pytest.raises(ConfigError, match="action: continuous"):
        get_algorithm("sac").check_action_kind("discrete")
    get_algorithm("ppo").check_action_kind("discrete")


def test_maskable_ppo_is_registered_for_discrete_actions() -> None:
    algorithm = get_algorithm("Maskable-PPO")
    assert algorithm.cls is MaskablePPO
    algorithm.check_action_kind("discrete")
    with pytest.raises(ConfigError, match="action: discrete"):
        algorithm.check_action_kind("continuous")
    with pytest.raises(ConfigError, match="did you mean 'maskable-ppo'"):
        get_algorithm("maskable_ppo")

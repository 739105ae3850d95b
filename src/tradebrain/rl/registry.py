"""Algorithm registry over stable-baselines3: name -> class, the action spaces it supports, defaults."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm

from tradebrain.core.errors import ConfigError
from tradebrain.rl.double_dqn import DoubleDQN
from tradebrain.rl.policy import ActionKind


@dataclass(frozen=True)
class Algorithm:
    """An RL algorithm the platform can train."""

    name: str
    cls: type[BaseAlgorithm]
    action_kinds: tuple[ActionKind, ...]
    defaults: dict[str, Any] = field(default_factory=dict)

    def check_action_kind(self, kind: ActionKind) -> None:
        """Reject an env whose action space this algorithm cannot drive."""
        if kind not in self.action_kinds:
            options = " or ".join(self.action_kinds)
            raise ConfigError(f"algorithm '{self.name}' needs {options} actions; set action: {self.action_kinds[0]}")


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm("ppo", PPO, ("continuous", "discrete")),
    "sac": Algorithm("sac", SAC, ("continuous",)),
    "dqn": Algorithm("dqn", DoubleDQN, ("discrete",)),
    # PPO that samples only the actions the env's `action_masks()` allows (sb3-contrib)
    "maskable-ppo": Algorithm("maskable-ppo", MaskablePPO, ("discrete",)),
}


def get_algorithm(name: str) -> Algorithm:
    """The registered algorithm called `name`, or a ConfigError suggesting the closest one."""
    key = name.lower()
    if key not in ALGORITHMS:
        close = difflib.get_close_matches(key, list(ALGORITHMS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown algorithm '{name}'{hint} (known: {', '.join(ALGORITHMS)})")
    return ALGORITHMS[key]


def load_model(path: str, algorithm: str) -> BaseAlgorithm:
    """A saved model of the named algorithm, on the CPU."""
    return get_algorithm(algorithm).cls.load(path, device="cpu")

"""One Policy interface for RL models and baselines: a batch of observations (and masks) -> actions."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

ActionKind = Literal["discrete", "continuous"]


@runtime_checkable
class Policy(Protocol):
    """Anything that acts: a trained agent or a baseline, used alike by envs, backtests and live."""

    name: str
    action_kind: ActionKind

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """Actions for a batch of observations (episodes, features), in the env's action space."""
        ...


class ModelPolicy:
    """A trained stable-baselines3 / sb3-contrib model acting deterministically."""

    def __init__(self, model: Any, name: str) -> None:
        self.model = model
        self.name = name
        self.action_kind: ActionKind = (
            "discrete" if model.action_space.__class__.__name__ == "Discrete" else "continuous"
        )

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """The model's greedy actions."""
        kwargs = {} if action_masks is None else {"action_masks": action_masks}
        actions, _ = self.model.predict(observations, deterministic=True, **kwargs)
        return np.asarray(actions)

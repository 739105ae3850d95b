"""What every natively batched env shares: the stable-baselines3 VecEnv plumbing for one object
that steps all its episodes at once (attributes and methods are the env's own, once per index)."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn


class BatchedCore(Protocol):
    """What a batched twin needs of an env core: reset, step, and the step's outputs as arrays."""

    observation: np.ndarray
    reward: np.ndarray

    def reset(self, seeds: Sequence[int | None] | None = None) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> bool: ...


class BatchedVecEnv(VecEnv):
    """Base of the batched twins: `num_envs` episodes of one core, stepping and ending together.

    Finished episodes reset automatically; `infos[i]["terminal_observation"]` holds each last
    observation (as SB3 expects) and `last_episodes` the finished episodes' results as arrays
    (`finished_episodes()`), since 1,024 dicts of numbers cost more than the step. Mid-episode steps
    share one read-only empty mapping per slot. Seeds come from `seed()` (seed + i).
    """

    def __init__(self, core: BatchedCore, num_envs: int, observation_space: Any, action_space: Any) -> None:
        self.core = core
        self.render_mode = None
        super().__init__(num_envs, observation_space, action_space)
        self._actions: np.ndarray | None = None
        self._no_infos: list[dict[str, Any]] = [MappingProxyType({})] * num_envs  # type: ignore[list-item]
        self.last_episodes: dict[str, np.ndarray] = {}
        """Per-episode results of the episodes that just finished, as arrays (one entry per env)."""

    def finished_episodes(self) -> dict[str, np.ndarray]:
        """Results of the episodes that just ended, before the reset (subclasses name them)."""
        return {}

    def reset(self) -> VecEnvObs:
        """Reset every episode, using seeds given to `seed()` once."""
        seeds = self._seeds if any(seed is not None for seed in self._seeds) else None
        observations = self.core.reset(seeds).copy()
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return observations

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for `step_wait`."""
        self._actions = np.ascontiguousarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every episode; finished episodes are reset automatically."""
        if self._actions is None:
            raise RuntimeError("call step_async(actions) before step_wait()")
        core = self.core
        done = core.step(self._actions)
        self._actions = None
        rewards = core.reward.astype(np.float32)
        dones = np.full(self.num_envs, done)
        if not done:
            return core.observation.copy(), rewards, dones, self._no_infos
        self.last_episodes = self.finished_episodes()
        infos: list[dict[str, Any]] = [{"terminal_observation": row} for row in list(core.observation.copy())]
        return core.reset().copy(), rewards, dones, infos

    def close(self) -> None:
        """Nothing to release."""

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of this env, once per selected index (all episodes share one object)."""
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute shared by every episode."""
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call a method of this env once per selected index."""
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """No episode is wrapped in a Gymnasium wrapper."""
        return [False for _ in self._get_indices(indices)]

    def seeds_for(self, seed: int) -> Sequence[int]:
        """The per-episode seeds that `seed(seed)` assigns (seed + i), for comparing with single envs."""
        return [seed + i for i in range(self.num_envs)]

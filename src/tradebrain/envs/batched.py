"""What every natively batched env shares: the stable-baselines3 VecEnv plumbing for one object
that steps all its episodes at once (attributes and methods are the env's own, once per index)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices


class BatchedVecEnv(VecEnv):
    """Base of the batched twins: subclasses implement reset, step_async and step_wait."""

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

"""Natively batched twin of `Execution-v0`: N episodes in one numpy step, a stable-baselines3 VecEnv."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from tradebrain.envs.batched import BatchedVecEnv
from tradebrain.envs.execution.config import ExecutionEnvConfig
from tradebrain.envs.execution.core import ExecutionCore


class ExecutionVecEnv(BatchedVecEnv):
    """`num_envs` execution episodes stepped together; equal to as many `ExecutionEnv`s seed for seed.

    Episodes all end at the deadline, so they reset together; each finished episode's last
    observation is in `infos[i]["terminal_observation"]` (as stable-baselines3 expects). The results
    of the episodes that just finished are arrays in `last_episodes`: `implementation_shortfall` ($)
    and the reward-term totals `episode_reward_shortfall` and `episode_reward_risk` (the keys the
    single env puts in its last `info`); arrays, because 1,024 dicts of numbers cost more than the
    step. Seeds come from `seed()` (seed + i).
    """

    def __init__(self, config: ExecutionEnvConfig | None = None, num_envs: int = 1024) -> None:
        self.config = config or ExecutionEnvConfig()
        self.core = ExecutionCore(self.config, episodes=num_envs)
        self.render_mode = None
        super().__init__(num_envs, self.core.observer.space, self.core.actions.space)
        self._actions: np.ndarray | None = None
        self.last_episodes: dict[str, np.ndarray] = {}
        """Per-episode results of the episodes that just finished, as arrays (one entry per env)."""
        # Mid-episode steps have nothing to report: one shared read-only mapping per episode slot
        # (building 1,024 fresh dicts per step cost more than the step itself). Final steps get
        # fresh dicts, which SB3 wrappers may edit.
        self._no_infos: list[dict[str, Any]] = [MappingProxyType({})] * num_envs  # type: ignore[list-item]

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
        self.last_episodes = {
            "implementation_shortfall": core.simulator.implementation_shortfall().copy(),
            **{
                f"episode_reward_{name}": total.copy() for name, total in zip(core.term_names, core.totals, strict=True)
            },
        }
        infos: list[dict[str, Any]] = [{"terminal_observation": row} for row in list(core.observation.copy())]
        return core.reset().copy(), rewards, dones, infos

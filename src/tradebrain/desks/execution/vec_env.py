"""Natively batched twin of `Execution-v0`: N episodes in one numpy step, a stable-baselines3 VecEnv."""

from __future__ import annotations

import numpy as np

from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.core import ExecutionCore
from tradebrain.rl.vec_env import BatchedVecEnv


class ExecutionVecEnv(BatchedVecEnv):
    """`num_envs` execution episodes stepped together; equal to as many `ExecutionEnv`s seed for seed.

    Episodes all end at the deadline and reset together. `last_episodes` holds the finished
    episodes' `implementation_shortfall` ($) and reward-term totals `episode_reward_shortfall` and
    `episode_reward_risk` (the keys the single env puts in its last `info`).
    """

    def __init__(self, config: ExecutionEnvConfig | None = None, num_envs: int = 1024) -> None:
        self.config = config or ExecutionEnvConfig()
        core = ExecutionCore(self.config, episodes=num_envs)
        super().__init__(core, num_envs, core.observer.space, core.actions.space)
        self.core: ExecutionCore = core

    def finished_episodes(self) -> dict[str, np.ndarray]:
        """Implementation shortfall and reward-term totals of the episodes that just ended."""
        core = self.core
        return {
            "implementation_shortfall": core.simulator.implementation_shortfall().copy(),
            **{f"episode_reward_{name}": row.copy() for name, row in zip(core.term_names, core.totals, strict=True)},
        }

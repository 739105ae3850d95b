"""Natively batched twin of `MarketMaking-v0`: N episodes in one compiled step, a stable-baselines3 VecEnv."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from tradebrain.envs.batched import BatchedVecEnv
from tradebrain.envs.market_making.config import MarketMakingEnvConfig
from tradebrain.envs.market_making.core import MarketMakingCore


class MarketMakingVecEnv(BatchedVecEnv):
    """`num_envs` market-making episodes stepped together; equal to as many `MarketMakingEnv`s seed for seed.

    Episodes all end at the horizon and reset together; `infos[i]["terminal_observation"]` holds
    each last observation, and `last_episodes` the finished episodes' `pnl` and reward-term totals
    (`episode_reward_<term>`) as arrays, the keys the single env puts in its last `info`.
    """

    def __init__(self, config: MarketMakingEnvConfig | None = None, num_envs: int = 256) -> None:
        self.config = config or MarketMakingEnvConfig()
        self.core = MarketMakingCore(self.config, episodes=num_envs)
        self.render_mode = None
        super().__init__(num_envs, self.core.observation_space, self.core.action_space)
        self._actions: np.ndarray | None = None
        self._no_infos: list[dict[str, Any]] = [MappingProxyType({})] * num_envs  # type: ignore[list-item]
        self.last_episodes: dict[str, np.ndarray] = {}

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
            "pnl": core.simulator.profit().copy(),
            **{f"episode_reward_{name}": row.copy() for name, row in zip(core.term_names, core.totals, strict=True)},
        }
        infos: list[dict[str, Any]] = [{"terminal_observation": row} for row in list(core.observation.copy())]
        return core.reset().copy(), rewards, dones, infos

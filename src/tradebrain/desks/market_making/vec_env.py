"""Natively batched twin of `MarketMaking-v0`: N episodes in one compiled step, a stable-baselines3 VecEnv."""

from __future__ import annotations

import numpy as np

from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.core import MarketMakingCore
from tradebrain.rl.vec_env import BatchedVecEnv


class MarketMakingVecEnv(BatchedVecEnv):
    """`num_envs` market-making episodes stepped together; equal to as many `MarketMakingEnv`s seed for seed.

    Episodes all end at the horizon and reset together. `last_episodes` holds the finished episodes'
    `pnl` and reward-term totals (`episode_reward_<term>`), the keys the single env puts in its last
    `info`.
    """

    def __init__(self, config: MarketMakingEnvConfig | None = None, num_envs: int = 256) -> None:
        self.config = config or MarketMakingEnvConfig()
        core = MarketMakingCore(self.config, episodes=num_envs)
        super().__init__(core, num_envs, core.observation_space, core.action_space)
        self.core: MarketMakingCore = core

    def finished_episodes(self) -> dict[str, np.ndarray]:
        """Profit and reward-term totals of the episodes that just ended."""
        core = self.core
        return {
            "pnl": core.simulator.profit().copy(),
            **{f"episode_reward_{name}": row.copy() for name, row in zip(core.term_names, core.totals, strict=True)},
        }

"""The batched market-making MDP shared by the single env and its VecEnv twin."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces
from numba.core.errors import TypingError

from tradebrain.core.errors import InputError
from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.kernels import (
    BAD_ACTION,
    OBSERVATION_NAMES_AFTER_RETURNS,
    REWARD_TERMS,
    env_params,
    market_making_env_step,
    observe_into,
)
from tradebrain.desks.market_making.simulator import MarketMakingSimulator

REWARD, TERMS, TOTALS = 0, slice(1, 4), slice(4, 7)


class MarketMakingCore:
    """Simulator + observer + action map + reward over a batch of episodes stepping in lockstep.

    Outputs live in preallocated arrays (`observation`, `reward`, `terms`, `totals`) that the next
    step overwrites: copy what you keep.
    """

    def __init__(self, config: MarketMakingEnvConfig, episodes: int) -> None:
        self.config = config
        self.simulator = MarketMakingSimulator(config.market, episodes)
        self.params = env_params(config)
        lookback, steps = config.lookback, config.market.steps
        self.names: tuple[str, ...] = (
            "time_left",
            "inventory",
            *(f"return_lag{lag}" for lag in range(lookback, 0, -1)),
            *OBSERVATION_NAMES_AFTER_RETURNS,
        )
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(len(self.names),), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.term_names = REWARD_TERMS
        self.observation = np.zeros((episodes, len(self.names)), dtype=np.float32)
        self.flows = np.zeros((1 + 2 * len(REWARD_TERMS), episodes))
        self.reward, self.terms, self.totals = self.flows[REWARD], self.flows[TERMS], self.flows[TOTALS]
        self.offsets = np.zeros((2, episodes))
        """Bid and ask distances quoted in the last step, $."""
        self.mids = np.zeros((episodes, lookback + steps + 1))
        """Mid path with `lookback` flat points before the open (no returns are known then)."""
        self._steps = steps

    def reset(self, seeds: Sequence[int | None] | None = None) -> np.ndarray:
        """New episodes; returns the observation buffer (episodes, features)."""
        sim = self.simulator
        sim.reset(seeds)
        self.mids[:] = self.config.market.s0
        self.totals.fill(0.0)
        if observe_into(self.params[0], 0, self.mids, sim.ledger, self.observation):
            raise InputError("observation holds NaN or infinity; check the market parameters")
        return self.observation

    def step(self, actions: np.ndarray) -> bool:
        """Apply actions (episodes, 2) in [-1, 1]; returns True when the horizon is reached."""
        sim = self.simulator
        if not 0 <= sim.step_index < self._steps:
            raise RuntimeError("call reset() before stepping (and after the horizon)")
        if type(actions) is not np.ndarray:
            actions = np.asarray(actions)
        try:
            status = market_making_env_step(
                self.params, sim.params, sim.step_index, sim.normals, sim.ledger, self.mids, actions,
                self.offsets, self.flows, self.observation,
            )  # fmt: skip
        except TypingError:  # not an array of real numbers
            status = BAD_ACTION
        if status == BAD_ACTION:
            raise InputError(
                f"actions must be pairs (bid, ask) of finite numbers in [-1, 1], one per episode "
                f"(got {np.ravel(actions)[:6]}); -1 quotes {self.config.min_offset:g} $ from the mid, "
                f"+1 quotes {self.config.max_offset:g} $"
            )
        sim.step_index += 1
        if status:
            raise InputError("observation holds NaN or infinity; check the market parameters")
        return sim.step_index == self._steps

"""The batched MDP shared by the single env and its VecEnv twin: one code path for both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from tradebrain.core.errors import InputError
from tradebrain.envs.execution.actions import action_error, fractions_to_shares, make_action_map, multiples_to_shares
from tradebrain.envs.execution.config import ExecutionEnvConfig
from tradebrain.envs.execution.observer import NOT_FINITE, ExecutionObserver, observe_into
from tradebrain.envs.execution.reward import REWARD_TERMS, mean_variance_reward, reward_into
from tradebrain.market.liquidation import BAD_SHARES, LiquidationSimulator, liquidation_step


@njit(cache=True)
def execution_step(
    sim: np.ndarray, observer: np.ndarray, reward_params: np.ndarray,
    discrete: bool, multiples: np.ndarray, step: int,
    path: np.ndarray, mids: np.ndarray, inventory: np.ndarray, mid: np.ndarray, cash: np.ndarray,
    actions: np.ndarray, shares: np.ndarray, traded: np.ndarray, price: np.ndarray, shortfall: np.ndarray,
    terms: np.ndarray, totals: np.ndarray, reward: np.ndarray, observation: np.ndarray,
) -> int:  # fmt: skip
    """Action map -> simulator -> reward -> observer, in one compiled call; returns a status code."""
    if discrete:
        status = multiples_to_shares(actions, multiples, inventory, sim[0].steps - step, shares)
    else:
        status = fractions_to_shares(actions, inventory, shares)
    if status:
        return status
    status = liquidation_step(sim, step, path, mids, inventory, mid, cash, shares, traded, price, shortfall)
    if status:
        return status
    reward_into(reward_params, shortfall, inventory, terms, reward)
    totals += terms
    return observe_into(observer, step + 1, mids, inventory, observation)


class ExecutionCore:
    """Simulator + observer + action map + reward over a batch of episodes stepping in lockstep.

    Step outputs live in preallocated arrays (`observation`, `reward`, `terms`, `totals`) that the
    next step overwrites: copy what you keep.
    """

    def __init__(self, config: ExecutionEnvConfig, episodes: int) -> None:
        self.config = config
        self.simulator = LiquidationSimulator(config.market, config.task, episodes)
        self.observer = ExecutionObserver(config)
        self.actions = make_action_map(config)
        self.reward_params = mean_variance_reward(config)
        self.term_names = REWARD_TERMS
        self.terms = np.zeros((episodes, len(REWARD_TERMS)))
        self.totals = np.zeros((episodes, len(REWARD_TERMS)))
        self.reward = np.zeros(episodes)
        self.observation = np.zeros((episodes, len(self.observer.names)), dtype=np.float32)
        self._shares = np.zeros(episodes)
        self._discrete = self.actions.kind == "discrete"
        self._steps = config.task.steps

    def reset(self, seeds: Sequence[int | None] | None = None) -> np.ndarray:
        """New episodes; returns the observation buffer (episodes, features)."""
        self.simulator.reset(seeds)
        self.totals[:] = 0.0
        simulator = self.simulator
        if observe_into(self.observer.params, 0, simulator.mids, simulator.inventory, self.observation):
            raise InputError("observation holds NaN or infinity; check the market parameters")
        return self.observation

    def step(self, actions: np.ndarray) -> bool:
        """Apply actions (one per episode); returns True when the deadline is reached."""
        sim = self.simulator
        if not 0 <= sim.step_index < self._steps:
            raise RuntimeError("call reset() before stepping (and after the deadline)")
        # The kernels index actions without bounds checks: exactly one real number per episode.
        actions = np.asarray(actions)
        if actions.size != sim.episodes or actions.dtype.kind not in "biuf":
            raise action_error(self.actions, actions)
        status = execution_step(
            sim.params, self.observer.params, self.reward_params, self._discrete, self.actions.multiples,
            sim.step_index, sim.path, sim.mids, sim.inventory, sim.mid, sim.cash, actions, self._shares,
            sim.traded, sim.price, sim.shortfall, self.terms, self.totals, self.reward, self.observation,
        )  # fmt: skip
        if status == BAD_SHARES:
            raise InputError("shares must be finite and lie in [0, inventory]")
        if status == NOT_FINITE:  # the trade happened; keep the step counter in line with the state
            sim.step_index += 1
            raise InputError("observation holds NaN or infinity; check the market parameters")
        if status:
            raise action_error(self.actions, actions)
        sim.step_index += 1
        return sim.step_index == self._steps

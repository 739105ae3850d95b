"""The batched MDP shared by the single env and its VecEnv twin: one code path for both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit
from numba.core.errors import TypingError

from tradebrain.core.errors import InputError
from tradebrain.desks.execution.actions import (
    BAD_ACTION,
    action_error,
    fractions_to_shares,
    make_action_map,
    multiples_to_shares,
)
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.observer import NOT_FINITE, ExecutionObserver, observe_into
from tradebrain.desks.execution.reward import REWARD_TERMS, mean_variance_reward, reward_into
from tradebrain.desks.execution.simulator import (
    BAD_SHARES,
    INVENTORY,
    SHORTFALL,
    LiquidationSimulator,
    liquidation_step,
)

FLOW_ROWS = ("shares", "reward", "term_shortfall", "term_risk", "total_shortfall", "total_risk")
SHARES, REWARD, TERMS, TOTALS = 0, 1, slice(2, 4), slice(4, 6)
"""Rows of the core's per-step results (rows x episodes); terms and totals follow REWARD_TERMS."""


@njit(cache=True)
def execution_step(
    sim: np.ndarray, observer: np.ndarray, reward_params: np.ndarray, multiples: np.ndarray, step: int,
    path: np.ndarray, mids: np.ndarray, ledger: np.ndarray, actions: np.ndarray, flows: np.ndarray,
    observation: np.ndarray,
) -> int:  # fmt: skip
    """Action map -> simulator -> reward -> observer, in one compiled call; returns a status code.

    Discrete actions index `multiples`; with no multiples, actions are continuous fractions."""
    inventory, shares = ledger[INVENTORY], flows[SHARES]
    if actions.size != inventory.shape[0]:  # the action kernels read one number per episode
        return BAD_ACTION
    if multiples.size:
        status = multiples_to_shares(actions, multiples, inventory, sim[0].steps - step, shares)
    else:
        status = fractions_to_shares(actions, inventory, shares)
    if status:
        return status
    status = liquidation_step(sim, step, path, mids, ledger, shares)
    if status:
        return status
    reward_into(reward_params, ledger[SHORTFALL], inventory, flows[TERMS], flows[REWARD])
    flows[TOTALS] += flows[TERMS]
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
        self.flows = np.zeros((len(FLOW_ROWS), episodes))
        self.reward = self.flows[REWARD]
        self.terms = self.flows[TERMS]
        """This step's reward terms, (len(REWARD_TERMS), episodes)."""
        self.totals = self.flows[TOTALS]
        """The episode's reward-term totals so far, (len(REWARD_TERMS), episodes)."""
        self.observation = np.zeros((episodes, len(self.observer.names)), dtype=np.float32)
        self._steps = config.task.steps

    def reset(self, seeds: Sequence[int | None] | None = None) -> np.ndarray:
        """New episodes; returns the observation buffer (episodes, features)."""
        self.simulator.reset(seeds)
        self.totals.fill(0.0)
        simulator = self.simulator
        if observe_into(self.observer.params, 0, simulator.mids, simulator.inventory, self.observation):
            raise InputError("observation holds NaN or infinity; check the market parameters")
        return self.observation

    def step(self, actions: np.ndarray) -> bool:
        """Apply actions (one per episode); returns True when the deadline is reached."""
        sim = self.simulator
        if not 0 <= sim.step_index < self._steps:
            raise RuntimeError("call reset() before stepping (and after the deadline)")
        if type(actions) is not np.ndarray:
            actions = np.asarray(actions)
        try:
            status = execution_step(
                sim.params, self.observer.params, self.reward_params, self.actions.multiples, sim.step_index,
                sim.path, sim.mids, sim.ledger, actions, self.flows, self.observation,
            )  # fmt: skip
        except TypingError:  # not an array of real numbers
            raise action_error(self.actions, actions) from None
        if status == BAD_SHARES:
            raise InputError("shares must be finite and lie in [0, inventory]")
        if status == NOT_FINITE:  # the trade happened; keep the step counter in line with the state
            sim.step_index += 1
            raise InputError("observation holds NaN or infinity; check the market parameters")
        if status:
            raise action_error(self.actions, actions)
        sim.step_index += 1
        return sim.step_index == self._steps

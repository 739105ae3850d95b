"""Stateless map from the simulator state to the agent's observation (one row per episode)."""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces
from numba import njit

from tradebrain.core.errors import InputError
from tradebrain.core.records import record
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.simulator import LiquidationSimulator

NOT_FINITE = 3
"""Kernel status: an observation came out NaN or infinite."""


OBSERVER_PARAMS = np.dtype(
    [("steps", "i8"), ("lookback", "i8"), ("shares", "f8"), ("step_unit", "f8"), ("horizon_unit", "f8"),
     ("gamma", "f8"), ("epsilon", "f8")]
)  # fmt: skip
"""Scalars the observation kernel needs (a one-row record, see core.records)."""


@njit(cache=True)
def observe_into(records: np.ndarray, step: int, mids: np.ndarray, inventory: np.ndarray, out: np.ndarray) -> int:
    """Write every episode's observation into `out` (episodes, features); returns 0 or NOT_FINITE.

    Reads only columns up to the current step of `mids`, so the future cannot leak in.
    """
    params = records[0]
    lookback = params.lookback
    now = lookback + step
    for i in range(inventory.shape[0]):
        out[i, 0] = (params.steps - step) / params.steps
        out[i, 1] = inventory[i] / params.shares
        squares = 0.0
        for j in range(lookback):
            change = (mids[i, now - lookback + j + 1] - mids[i, now - lookback + j]) / params.step_unit
            out[i, 2 + j] = change
            squares += change * change
        out[i, 2 + lookback] = math.sqrt(squares / lookback)
        out[i, 3 + lookback] = (mids[i, now] - mids[i, lookback]) / params.horizon_unit
        out[i, 4 + lookback] = params.gamma * (params.shares - inventory[i]) / params.step_unit
        out[i, 5 + lookback] = params.epsilon / params.step_unit
        for j in range(out.shape[1]):
            if not math.isfinite(out[i, j]):
                return NOT_FINITE
    return 0


class ExecutionObserver:
    """Observation = [time left, inventory left, last L mid returns, realised vol, mid vs arrival,
    permanent impact so far, half spread]; prices in units of one interval's volatility sigma*sqrt(tau)
    (mid vs arrival in units of sigma*sqrt(T)), so features are O(1) on any market.
    """

    def __init__(self, config: ExecutionEnvConfig) -> None:
        market, task = config.market, config.task
        fallback_unit = market.s0 * 1e-4
        self.params = record(
            OBSERVER_PARAMS, steps=task.steps, lookback=market.lookback, shares=task.shares,
            step_unit=market.sigma * math.sqrt(task.tau) or fallback_unit,
            horizon_unit=market.sigma * math.sqrt(task.horizon) or fallback_unit,
            gamma=market.gamma, epsilon=market.epsilon,
        )  # fmt: skip
        self.names: tuple[str, ...] = (
            "time_left",
            "inventory_left",
            *(f"return_lag{lag}" for lag in range(market.lookback, 0, -1)),
            "realised_vol",
            "mid_vs_arrival",
            "permanent_impact",
            "half_spread",
        )
        self.space = spaces.Box(-np.inf, np.inf, shape=(len(self.names),), dtype=np.float32)

    def observe(self, simulator: LiquidationSimulator) -> np.ndarray:
        """Fresh observations (episodes, features), float32, validated finite."""
        out = np.empty((simulator.episodes, len(self.names)), dtype=np.float32)
        if observe_into(self.params, simulator.step_index, simulator.mids, simulator.inventory, out):
            raise InputError("observation holds NaN or infinity; check the market parameters")
        return out

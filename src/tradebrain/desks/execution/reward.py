"""Reward = named terms, each logged: -shortfall increment - lambda*sigma^2*tau*x_k^2, in bps of notional."""

from __future__ import annotations

import numpy as np
from numba import njit

from tradebrain.core.records import record
from tradebrain.desks.execution.config import ExecutionEnvConfig

REWARD_TERMS = ("shortfall", "risk")


REWARD_PARAMS = np.dtype([("per_dollar", "f8"), ("risk_weight", "f8")])
"""Scale of one reward unit and the weight of the risk term (a one-row record, see core.records)."""


@njit(cache=True)
def reward_into(
    records: np.ndarray, shortfall: np.ndarray, carried: np.ndarray, terms: np.ndarray, reward: np.ndarray
) -> None:
    """terms[0] = -shortfall, terms[1] = -lambda*sigma^2*tau*x_k^2 (reward units, rows of REWARD_TERMS);
    reward = their sum."""
    params = records[0]
    for i in range(shortfall.shape[0]):
        terms[0, i] = -shortfall[i] * params.per_dollar
        terms[1, i] = -params.risk_weight * carried[i] * carried[i] * params.per_dollar
        reward[i] = terms[0, i] + terms[1, i]


def mean_variance_reward(config: ExecutionEnvConfig) -> np.ndarray:
    """Reward in basis points of the arrival notional; over an episode the terms sum to
    -(implementation shortfall + lambda*sigma^2*tau*sum x_k^2), whose mean is -(E + lambda*V)
    for a static schedule."""
    task = config.task
    return record(
        REWARD_PARAMS,
        per_dollar=1.0 / config.dollars_per_reward_unit,
        risk_weight=task.risk_aversion * config.market.sigma**2 * task.tau,
    )

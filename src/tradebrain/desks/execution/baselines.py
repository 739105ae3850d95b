"""Execution baselines: static schedules (TWAP, VWAP, sell-now, Almgren-Chriss optimal) as Policies.

A schedule policy reads time left and inventory left from the observation and trades the fraction
of its inventory that brings holdings to the schedule's next target, so it acts in the continuous
action space of `Execution-v0` and follows its schedule exactly.
"""

from __future__ import annotations

import numpy as np

from tradebrain.desks.execution.almgren_chriss import (
    immediate_holdings,
    optimal_holdings,
    profile_holdings,
    twap_holdings,
)
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.rl.policy import ActionKind

TIME_LEFT, INVENTORY_LEFT = 0, 1
"""Observation columns the schedules read (see desks/execution/observer.py)."""


class SchedulePolicy:
    """Follow a static holdings schedule x_0..x_N (fractions of X)."""

    action_kind: ActionKind = "continuous"

    def __init__(self, name: str, holdings: np.ndarray, shares: float) -> None:
        self.name = name
        self.holdings = np.asarray(holdings, dtype=float) / shares
        self.steps = len(holdings) - 1

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """Fraction of what is left that reaches the next target (1 at the last interval)."""
        observations = np.asarray(observations, dtype=float)
        step = np.rint(self.steps * (1.0 - observations[:, TIME_LEFT])).astype(int)
        left = observations[:, INVENTORY_LEFT]
        target = self.holdings[np.clip(step + 1, 0, self.steps)]
        fraction = np.divide(left - target, left, out=np.ones_like(left), where=left > 0)
        actions: np.ndarray = np.clip(fraction, 0.0, 1.0).astype(np.float32).reshape(-1, 1)
        return actions


def twap(config: ExecutionEnvConfig) -> SchedulePolicy:
    """Trade evenly over the horizon."""
    return SchedulePolicy("TWAP", twap_holdings(config.task), config.task.shares)


def sell_now(config: ExecutionEnvConfig) -> SchedulePolicy:
    """Trade the whole block in the first interval."""
    name = "sell-now" if config.task.side == "sell" else "buy-now"
    return SchedulePolicy(name, immediate_holdings(config.task), config.task.shares)


def vwap(config: ExecutionEnvConfig, volume_profile: np.ndarray) -> SchedulePolicy:
    """Trade in proportion to an expected volume per interval."""
    return SchedulePolicy("VWAP", profile_holdings(config.task, volume_profile), config.task.shares)


def almgren_chriss(config: ExecutionEnvConfig, risk_aversion: float | None = None) -> SchedulePolicy:
    """The AC-optimal schedule for `risk_aversion` (the task's lambda by default)."""
    lam = config.task.risk_aversion if risk_aversion is None else risk_aversion
    return SchedulePolicy("AC-optimal", optimal_holdings(config.market, config.task, lam), config.task.shares)


def u_shaped_volume(steps: int) -> np.ndarray:
    """A U-shaped intraday volume profile (heavier at the open and close), for a default VWAP."""
    position = (np.arange(steps) + 0.5) / steps
    return 1.0 + 2.0 * (2.0 * position - 1.0) ** 2

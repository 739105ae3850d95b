"""Action maps: an agent's action -> shares to trade this interval (never more than is left)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from numba import njit

from tradebrain.core.errors import InputError
from tradebrain.desks.execution.config import ExecutionEnvConfig

BAD_ACTION = 2
"""Kernel status: an action lies outside the action space."""
BOUND_TOLERANCE = 1e-6


@njit(cache=True)
def fractions_to_shares(actions: np.ndarray, inventory: np.ndarray, out: np.ndarray) -> int:
    """Continuous actions in [0, 1] (fraction of what is left) -> shares; returns 0 or BAD_ACTION."""
    flat = actions.ravel()
    for i in range(inventory.shape[0]):
        fraction = float(flat[i])
        if not (-BOUND_TOLERANCE <= fraction <= 1.0 + BOUND_TOLERANCE):
            return BAD_ACTION
        out[i] = min(max(fraction, 0.0), 1.0) * inventory[i]
    return 0


@njit(cache=True)
def multiples_to_shares(
    actions: np.ndarray, multiples: np.ndarray, inventory: np.ndarray, steps_left: int, out: np.ndarray
) -> int:
    """Discrete actions indexing TWAP multiples -> shares; returns 0 or BAD_ACTION."""
    flat = actions.ravel()
    for i in range(inventory.shape[0]):
        value = flat[i]
        index = int(value)
        if index != value or index < 0 or index >= multiples.shape[0]:
            return BAD_ACTION
        out[i] = min(multiples[index] * inventory[i] / steps_left, inventory[i])
    return 0


class FractionActions:
    """Continuous action in [0, 1]: the fraction of the remaining inventory to trade now."""

    kind = "continuous"

    def __init__(self, config: ExecutionEnvConfig) -> None:
        self.space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.multiples = np.zeros(0)

    def describe_error(self) -> str:
        """What a valid action looks like."""
        return "actions must be finite fractions of the inventory left, in [0, 1] (Box(0, 1, (1,)))"


class TwapMultipleActions:
    """Discrete action i: trade multiples[i] times the TWAP rate of what is left (inventory / steps left)."""

    kind = "discrete"

    def __init__(self, config: ExecutionEnvConfig) -> None:
        self.multiples = np.asarray(config.twap_multiples, dtype=float)
        self.space = spaces.Discrete(len(self.multiples))

    def describe_error(self) -> str:
        """What a valid action looks like."""
        return (
            f"actions must be integers in [0, {len(self.multiples) - 1}] (Discrete({len(self.multiples)})), "
            f"indexing the TWAP multiples {tuple(self.multiples.tolist())}"
        )


def make_action_map(config: ExecutionEnvConfig) -> FractionActions | TwapMultipleActions:
    """The action map of the configured variant."""
    return FractionActions(config) if config.action == "continuous" else TwapMultipleActions(config)


def action_error(action_map: FractionActions | TwapMultipleActions, actions: np.ndarray) -> InputError:
    """An error naming the offending action and the valid range."""
    return InputError(
        f"action outside the action space (got {np.ravel(actions)[:5]}...): {action_map.describe_error()}"
    )

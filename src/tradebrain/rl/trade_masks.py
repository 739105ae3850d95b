"""Discrete long/flat trading actions (hold, buy, sell) and the rules that mask them: after an entry
only hold for a cooldown, and before the session's end only exit (or, flat, only wait).

Compiled, because the backtest loop's masked-MLP kernel (rl/kernels.py) decides with these very
rules in machine code; the day-trading desk's env, backtest and live decision path call them too,
so an action the env would refuse can never be taken anywhere else. They live here, below the
desks, because numba's cached loop can only run a closed catalogue of kernels (architecture.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit

HOLD, BUY, SELL = 0, 1, 2
N_ACTIONS = 3
ACTION_NAMES: tuple[str, ...] = ("hold", "buy", "sell")


@njit(cache=True)
def allowed_actions(
    in_position: bool, bars_held: int, bars_left: int, cooldown_bars: int, exit_window_bars: int
) -> np.ndarray:
    """The actions allowed at a bar, by HOLD, BUY, SELL (rules documented in the day-trading desk's
    `action_mask`, which checks its inputs and calls this)."""
    mask = np.zeros(N_ACTIONS, dtype=np.bool_)
    in_exit_window = bars_left < exit_window_bars
    if in_position:
        if in_exit_window:
            mask[SELL] = True
        elif bars_held < cooldown_bars:
            mask[HOLD] = True
        else:
            mask[HOLD] = True
            mask[SELL] = True
    else:
        mask[HOLD] = True
        mask[BUY] = not in_exit_window
    return mask

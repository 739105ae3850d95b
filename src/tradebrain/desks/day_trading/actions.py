"""The three actions (hold, buy, sell) and the mask of those allowed at a bar.

The same `action_mask` drives the env, the backtest and the live desk, so an action the env would
refuse can never be taken anywhere else.
"""

from __future__ import annotations

import numpy as np

from tradebrain.core.errors import InputError
from tradebrain.rl.trade_masks import ACTION_NAMES, BUY, HOLD, N_ACTIONS, SELL, allowed_actions

__all__ = [
    "ACTION_NAMES",
    "BUY",
    "HOLD",
    "N_ACTIONS",
    "SELL",
    "action_mask",
    "allowed_actions",
    "describe_mask",
    "parse_action",
]


def action_mask(
    in_position: bool, bars_held: int, bars_left: int, cooldown_bars: int, exit_window_bars: int
) -> np.ndarray:
    """The actions allowed at the current bar: a bool array of shape (3,) indexed by HOLD, BUY, SELL.

    `bars_held`: bars since the entry fill (0 on the entry bar itself, so the first decision after
    a buy sees 1). `bars_left`: bars of the session after the current one (0 on the last bar).

    - In a position: in the exit window (`bars_left < exit_window_bars`, i.e. the current bar is
      one of the last `exit_window_bars` bars) only SELL; else during the cooldown
      (`bars_held < cooldown_bars`) only HOLD; else HOLD or SELL. With the default cooldown of 2,
      a position bought at bar t can be sold at bar t + 2 at the earliest. The exit window wins
      over the cooldown: a position opened just before the window is sold at its first bar.
    - Flat: in the exit window only HOLD; else HOLD or BUY. The last buy is possible at the bar
      with `bars_left == exit_window_bars`.

    Since `exit_window_bars >= 1`, a position open at the last bar may only be sold; the env also
    closes any position left at the last bar (forced exit), so the session always ends flat.
    """
    if bars_held < 0 or bars_left < 0 or cooldown_bars < 0 or exit_window_bars < 1:
        raise InputError(
            f"action_mask needs bars_held >= 0, bars_left >= 0, cooldown_bars >= 0 and exit_window_bars >= 1 "
            f"(got {bars_held}, {bars_left}, {cooldown_bars}, {exit_window_bars})"
        )
    return allowed_actions(bool(in_position), int(bars_held), int(bars_left), int(cooldown_bars), int(exit_window_bars))


def describe_mask(mask: np.ndarray) -> str:
    """The allowed actions by name, e.g. "hold or sell"."""
    return " or ".join(f"{ACTION_NAMES[i]} ({i})" for i in range(N_ACTIONS) if mask[i])


def parse_action(action: object) -> int:
    """An action of Discrete(3) as an int; an InputError naming the action otherwise."""
    value = np.asarray(action)
    if value.size == 1 and value.dtype.kind in "iubf":
        number = float(value.reshape(()))
        if number.is_integer() and 0 <= number < N_ACTIONS:
            return int(number)
    raise InputError(f"action {action!r} is not one of 0 (hold), 1 (buy), 2 (sell) (Discrete(3))")

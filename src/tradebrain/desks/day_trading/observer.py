"""Stateless map from a bar's features and the position to the agent's observation.

The env, the backtest and the live desk build observations with this one function, so what the
policy sees cannot differ between training and trading.
"""

from __future__ import annotations

import numpy as np

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.config import DayTradingEnvConfig

EXTRA_NAMES: tuple[str, ...] = ("in_position", "position_pnl")


def observation(
    features_row: np.ndarray,
    in_position: bool,
    position_pnl: float,
    feature_names: tuple[str, ...] | None = None,
) -> np.ndarray:
    """[features of the bar..., 1.0 if long else 0.0, the open position's return net of the entry
    fee (0 when flat)] as float32, shape (n_features + 2,).

    Raises InputError naming the first NaN or infinite entry (by `feature_names` when given), since
    a NaN fed to a network silently poisons every later decision.
    """
    row = np.asarray(features_row, dtype=np.float64)
    if row.ndim != 1:
        raise InputError(f"features_row must be one bar's features, a 1-d array (got shape {row.shape})")
    out = np.empty(row.shape[0] + 2, dtype=np.float32)
    out[:-2] = row
    out[-2] = 1.0 if in_position else 0.0
    out[-1] = position_pnl
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        index = int(bad[0])
        names = (*(feature_names or tuple(f"feature {i}" for i in range(row.shape[0]))), *EXTRA_NAMES)
        value = row[index] if index < row.shape[0] else position_pnl
        hint = "drop the warm-up rows (trading_days does)" if index < row.shape[0] else "check the fill prices"
        raise InputError(f"observation entry {names[index]!r} is {value} (not finite); {hint}")
    return out


def observation_size(config: DayTradingEnvConfig) -> int:
    """Length of an observation: the configured features plus the position flag and PnL."""
    return len(config.features) + len(EXTRA_NAMES)


def observation_names(config: DayTradingEnvConfig) -> tuple[str, ...]:
    """The name of every observation entry, in order."""
    return (*config.features, *EXTRA_NAMES)

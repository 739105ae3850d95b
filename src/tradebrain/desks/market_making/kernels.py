"""Observer, action map and reward of the market-making env as numba kernels over a batch.

Each part stays a function of its own; `market_making_env_step` composes them with the simulator
step in one compiled call, so the single env and its batched twin share every line.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from tradebrain.core.records import record
from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.simulator import ASK_FILLS, BID_FILLS, CASH, INVENTORY, MID, market_making_step

BAD_ACTION, NOT_FINITE = 2, 3
BOUND_TOLERANCE = 1e-6
REWARD_TERMS = ("pnl", "inventory_penalty", "terminal_penalty")
OBSERVATION_NAMES_AFTER_RETURNS = ("realised_vol", "bid_filled", "ask_filled")

ENV_PARAMS = np.dtype(
    [("min_offset", "f8"), ("max_offset", "f8"), ("phi", "f8"), ("terminal", "f8"), ("dt", "f8"),
     ("steps", "i8"), ("lookback", "i8"), ("inventory_scale", "f8"), ("return_unit", "f8")]
)  # fmt: skip


def env_params(config: MarketMakingEnvConfig) -> np.ndarray:
    """The kernels' parameter record."""
    market = config.market
    return record(
        ENV_PARAMS, min_offset=config.min_offset, max_offset=config.max_offset, phi=config.inventory_penalty,
        terminal=config.terminal_penalty, dt=market.dt, steps=market.steps, lookback=config.lookback,
        inventory_scale=config.inventory_scale, return_unit=market.sigma * math.sqrt(market.dt) or 1e-4 * market.s0,
    )  # fmt: skip


@njit(cache=True)
def actions_to_offsets(p: Any, actions: np.ndarray, delta_b: np.ndarray, delta_a: np.ndarray) -> int:
    """Actions (episodes, 2) in [-1, 1] -> bid and ask distances; returns 0 or BAD_ACTION."""
    flat = actions.ravel()
    if flat.shape[0] != 2 * delta_b.shape[0]:
        return BAD_ACTION
    span = (p.max_offset - p.min_offset) / 2.0
    for i in range(delta_b.shape[0]):
        bid, ask = float(flat[2 * i]), float(flat[2 * i + 1])
        if not (
            -1 - BOUND_TOLERANCE <= bid <= 1 + BOUND_TOLERANCE and -1 - BOUND_TOLERANCE <= ask <= 1 + BOUND_TOLERANCE
        ):
            return BAD_ACTION
        delta_b[i] = p.min_offset + (min(max(bid, -1.0), 1.0) + 1.0) * span
        delta_a[i] = p.min_offset + (min(max(ask, -1.0), 1.0) + 1.0) * span
    return 0


@njit(cache=True)
def observe_into(p: Any, step: int, mids: np.ndarray, ledger: np.ndarray, out: np.ndarray) -> int:
    """[time left, q / scale, last L mid returns / (sigma*sqrt(dt)), their RMS, bid filled, ask filled].

    Reads `mids` only up to column lookback + step: the future cannot leak in."""
    lookback = p.lookback
    now = lookback + step
    for i in range(ledger.shape[1]):
        out[i, 0] = (p.steps - step) / p.steps
        out[i, 1] = ledger[INVENTORY, i] / p.inventory_scale
        squares = 0.0
        for j in range(lookback):
            change = (mids[i, now - lookback + j + 1] - mids[i, now - lookback + j]) / p.return_unit
            out[i, 2 + j] = change
            squares += change * change
        out[i, 2 + lookback] = math.sqrt(squares / lookback)
        out[i, 3 + lookback] = ledger[BID_FILLS, i]
        out[i, 4 + lookback] = ledger[ASK_FILLS, i]
        for j in range(out.shape[1]):
            if not math.isfinite(out[i, j]):
                return NOT_FINITE
    return 0


@njit(cache=True)
def market_making_env_step(
    env: np.ndarray, sim: np.ndarray, step: int, normals: np.ndarray, ledger: np.ndarray, mids: np.ndarray,
    actions: np.ndarray, offsets: np.ndarray, flows: np.ndarray, observation: np.ndarray,
) -> int:  # fmt: skip
    """Action map -> simulator step -> reward terms -> observation; returns a status code.

    flows rows: 0 reward, 1-3 this step's terms (REWARD_TERMS), 4-6 the episode's totals."""
    p = env[0]
    status = actions_to_offsets(p, actions, offsets[0], offsets[1])
    if status:
        return status
    for i in range(ledger.shape[1]):
        flows[1, i] = -(ledger[CASH, i] + ledger[INVENTORY, i] * ledger[MID, i])  # wealth before
    status = market_making_step(sim, step, normals, ledger, offsets[0], offsets[1])
    if status:
        return BAD_ACTION
    last = step + 1 == p.steps
    for i in range(ledger.shape[1]):
        q = ledger[INVENTORY, i]
        flows[1, i] += ledger[CASH, i] + q * ledger[MID, i]
        flows[2, i] = -p.phi * q * q * p.dt
        flows[3, i] = -p.terminal * q * q if last else 0.0
        flows[0, i] = flows[1, i] + flows[2, i] + flows[3, i]
        for term in range(3):
            flows[4 + term, i] += flows[1 + term, i]
        mids[i, p.lookback + step + 1] = ledger[MID, i]
    return observe_into(p, step + 1, mids, ledger, observation)

"""Unaffected mid-price paths (ABM, GBM, OU, GARCH(1,1)), batched over episodes.

Every path has `lookback` pre-arrival points, the arrival at index `lookback` (always exactly `s0`,
so shortfalls are comparable across episodes), then `steps` future points spaced `tau` days apart.
Compiled with numba: a path costs well under a microsecond, so resets stay cheap for short episodes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from tradebrain.core.errors import InputError
from tradebrain.core.records import record
from tradebrain.market.config import PriceProcessConfig

PROCESSES = ("abm", "gbm", "ou", "garch")
ABM, GBM, OU, GARCH = range(4)

PRICE_PARAMS = np.dtype(
    [("process", "i8"), ("s0", "f8"), ("sigma", "f8"), ("drift", "f8"), ("ou_theta", "f8"),
     ("garch_alpha", "f8"), ("garch_beta", "f8"), ("tau", "f8"), ("lookback", "i8")]
)  # fmt: skip


def price_params(market: PriceProcessConfig, tau: float) -> np.ndarray:
    """The kernel's parameter record for `market` sampled every `tau` days."""
    return record(
        PRICE_PARAMS, process=PROCESSES.index(market.process), s0=market.s0, sigma=market.sigma,
        drift=market.drift, ou_theta=market.ou_theta, garch_alpha=market.garch_alpha,
        garch_beta=market.garch_beta, tau=tau, lookback=market.lookback,
    )  # fmt: skip


@njit(cache=True)
def _forward(p: Any, normals: np.ndarray, out: np.ndarray) -> None:
    """ABM, GBM (in logs) or GARCH path from 0, one increment per normal (one loop per process,
    so the branch is taken once per path, not once per step)."""
    out[0] = 0.0
    if p.process == GARCH:
        variance = p.sigma**2 * p.tau
        omega = variance * (1.0 - p.garch_alpha - p.garch_beta)
        for j in range(normals.shape[0]):
            shock = math.sqrt(variance) * normals[j]
            out[j + 1] = out[j] + p.drift * p.tau + shock
            variance = omega + p.garch_alpha * shock * shock + p.garch_beta * variance
        return
    if p.process == GBM:
        vol = p.sigma / p.s0
        mean, scale = (p.drift / p.s0 - vol * vol / 2.0) * p.tau, vol * math.sqrt(p.tau)
    else:
        mean, scale = p.drift * p.tau, p.sigma * math.sqrt(p.tau)
    for j in range(normals.shape[0]):
        out[j + 1] = out[j] + mean + scale * normals[j]


@njit(cache=True)
def _ou_deviation(p: Any, normals: np.ndarray, out: np.ndarray, direction: int) -> None:
    """OU deviation from the mean by the exact Gaussian transition, from out[start] = 0 (index
    `lookback`) forwards (direction 1, the future) or backwards (direction -1, the history)."""
    decay = math.exp(-p.ou_theta * p.tau)
    scale = p.sigma * math.sqrt((1.0 - decay * decay) / (2.0 * p.ou_theta))
    position = p.lookback
    out[position] = 0.0
    for j in range(normals.shape[0]):
        out[position + direction] = out[position] * decay + scale * normals[j]
        position += direction


@njit(cache=True)
def fill_paths(records: np.ndarray, normals: np.ndarray, out: np.ndarray) -> None:
    """Write paths (episodes, lookback + steps + 1) from normals (episodes, lookback + steps).

    ABM and GARCH paths are shifted and GBM paths scaled so the arrival equals `s0`. The OU path
    starts at its mean at the arrival, its history drawn backwards (a stationary OU process is
    time-reversible), so the distance from the arrival price is the distance from the mean.
    """
    p = records[0]
    lookback = p.lookback
    for i in range(normals.shape[0]):
        row = out[i]
        if p.process == OU:
            _ou_deviation(p, normals[i, :lookback], row, -1)
            _ou_deviation(p, normals[i, lookback:], row, 1)
            for j in range(row.shape[0]):
                row[j] += p.s0
        else:
            _forward(p, normals[i], row)
            anchor = row[lookback]
            if p.process == GBM:
                for j in range(row.shape[0]):
                    row[j] = p.s0 * math.exp(row[j] - anchor)
            else:
                for j in range(row.shape[0]):
                    row[j] = p.s0 + row[j] - anchor


def unaffected_paths(market: PriceProcessConfig, tau: float, steps: int, normals: np.ndarray) -> np.ndarray:
    """Mid paths of shape (episodes, lookback + steps + 1) from normals of shape (episodes, lookback + steps)."""
    expected = market.lookback + steps
    if normals.ndim != 2 or normals.shape[1] != expected:
        raise InputError(f"normals must have shape (episodes, {expected}), got {normals.shape}")
    out = np.empty((normals.shape[0], expected + 1))
    fill_paths(price_params(market, tau), np.ascontiguousarray(normals, dtype=np.float64), out)
    return out

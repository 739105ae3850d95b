"""Market-making desk: replicate the simulation of Avellaneda & Stoikov (2008).

Both strategies run on the SAME seeded episodes (common random numbers: the same mid paths and the
same fill draws), so their difference is the strategy's, not the luck of the draw.

Timing: a quote set at t_j = j*dt stands for the interval [t_j, t_j + dt), so the strategies are
evaluated at its midpoint t_j + dt/2. Their spread averaged over the steps is then exactly the
continuous-time average gamma*sigma^2*T/2 + (2/gamma)*ln(1 + gamma/k) that the symmetric strategy
quotes; evaluating at t_j instead would add gamma*sigma^2*dt/2 (0.001 at gamma = 0.1) to the average.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tradebrain.backtest.bootstrap import bootstrap, mean, standard_deviation
from tradebrain.core.errors import InputError
from tradebrain.desks.market_making.baselines import average_spread, inventory_quotes, symmetric_quotes
from tradebrain.desks.market_making.simulator import MarketMakingConfig, MarketMakingSimulator

Quoter = Callable[[float, np.ndarray, np.ndarray, float, MarketMakingConfig], tuple[np.ndarray, np.ndarray]]
STRATEGIES: dict[str, Quoter] = {"inventory": inventory_quotes, "symmetric": symmetric_quotes}
"""The paper's two strategies, by the names its table uses."""


def run_strategy(
    quoter: Quoter, gamma: float, paths: int, seed: int, config: MarketMakingConfig
) -> dict[str, np.ndarray]:
    """Run `quoter` on `paths` episodes seeded seed..seed+paths-1; returns per-episode arrays
    `spread` (mean quoted spread), `profit` (terminal wealth gain) and `inventory` (final q)."""
    sim = MarketMakingSimulator(config, paths)
    sim.reset(list(range(seed, seed + paths)))
    spread_sum = np.zeros(paths)
    while not sim.done:
        time = (sim.step_index + 0.5) * config.dt
        delta_b, delta_a = quoter(time, sim.inventory, sim.mid, gamma, config)
        spread_sum += delta_a + delta_b
        sim.step(delta_b, delta_a)
    return {"spread": spread_sum / sim.steps, "profit": sim.profit(), "inventory": sim.inventory.copy()}


def _summary(outcome: dict[str, np.ndarray], seed: int) -> dict[str, Any]:
    result: dict[str, Any] = {"average_spread": float(np.mean(outcome["spread"]))}
    for name, key in (("profit", "profit"), ("final_q", "inventory")):
        sample = outcome[key]
        result[f"{name}_mean"] = bootstrap(mean, sample, seed=seed).as_dict()
        result[f"{name}_std"] = bootstrap(standard_deviation, sample, seed=seed).as_dict()
    return result


def replicate(gamma: float, paths: int, seed: int, config: MarketMakingConfig | None = None) -> dict[str, Any]:
    """The paper's table for one gamma: per strategy the average spread and the mean and std of
    profit and of final inventory (each with a 95% BCa bootstrap interval), plus the formula for
    the average spread and the run's parameters."""
    if not (math.isfinite(gamma) and gamma > 0):
        raise InputError(f"gamma (risk aversion) must be a finite number > 0, got {gamma}")
    if paths < 2:
        raise InputError(f"paths must be >= 2 to estimate a standard deviation, got {paths}")
    config = config or MarketMakingConfig()
    strategies = {
        name: _summary(run_strategy(quoter, gamma, paths, seed, config), seed) for name, quoter in STRATEGIES.items()
    }
    return {
        "gamma": gamma,
        "paths": paths,
        "seed": seed,
        "formula_spread": average_spread(gamma, config),
        "strategies": strategies,
        "config": config.model_dump(mode="json"),
    }

"""Run market-making Policies on seeded episodes through the env's own core, recording what they did."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.core import MarketMakingCore
from tradebrain.desks.market_making.evaluate import MarketMakingOutcomes
from tradebrain.rl.policy import Policy


def run_market_making(
    config: MarketMakingEnvConfig, policy: Policy, seeds: Sequence[int], batch: int = 2048
) -> MarketMakingOutcomes:
    """One episode per seed, in batches; a side the inventory limit leaves unquoted is recorded as NaN."""
    market = config.market
    steps, limit = market.steps, market.max_inventory
    parts: dict[str, list[np.ndarray]] = {key: [] for key in ("pnl", "inventory", "mids", "bids", "asks", "fills")}
    for start in range(0, len(seeds), batch):
        chunk = list(seeds[start : start + batch])
        core = MarketMakingCore(config, episodes=len(chunk))
        sim = core.simulator
        observations = core.reset(chunk)
        inventory, mids = np.empty((len(chunk), steps + 1)), np.empty((len(chunk), steps + 1))
        bids, asks, fills = (np.empty((len(chunk), steps)) for _ in range(3))
        inventory[:, 0], mids[:, 0] = sim.inventory, sim.mid
        for step in range(steps):
            core.step(policy.act(observations.copy()))
            bids[:, step], asks[:, step] = core.offsets
            if limit is not None:
                bids[inventory[:, step] + 1 > limit, step] = np.nan
                asks[inventory[:, step] - 1 < -limit, step] = np.nan
            fills[:, step] = sim.bid_fills + sim.ask_fills
            inventory[:, step + 1], mids[:, step + 1] = sim.inventory, sim.mid
        for key, value in zip(parts, (sim.profit(), inventory, mids, bids, asks, fills), strict=True):
            parts[key].append(np.array(value))
    joined = {key: np.concatenate(values) for key, values in parts.items()}
    return MarketMakingOutcomes(
        policy.name, joined["pnl"], joined["inventory"], joined["mids"], joined["bids"], joined["asks"],
        joined["fills"], market.dt,
    )  # fmt: skip

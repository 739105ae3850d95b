"""`tradebrain/MarketMaking-v0`, the single-episode Gymnasium env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from tradebrain.core.config import with_overrides
from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.core import MarketMakingCore


class MarketMakingEnv(gym.Env[np.ndarray, np.ndarray]):
    """Quote a bid and an ask around the mid of the Avellaneda-Stoikov market.

    ## Action Space
    `Box(-1, 1, (2,))`: (bid, ask) distances from the mid, mapped linearly from [-1, 1] to
    [min_offset, max_offset] $ (defaults -3 and +5: a negative distance quotes through the mid).
    A quote at distance delta is hit within a step with probability min(1, A*exp(-k*delta)*dt).
    An action outside the space raises `InputError`.

    ## Observation Space
    `Box(-inf, inf, (5 + lookback,), float32)`: time left (fraction of T), inventory / inventory_scale,
    the last `lookback` mid returns and their RMS (a volatility estimate) in units of sigma*sqrt(dt),
    and whether the bid and the ask were hit in the last step (0/1).

    ## Rewards
    Per step, in $: `pnl` = change of mark-to-market wealth (cash + q*mid, fees included),
    `inventory_penalty` = -phi*q^2*dt, and at the last step `terminal_penalty` = -c*q_T^2. The terms
    are in `info["reward_pnl"]`, `["reward_inventory_penalty"]`, `["reward_terminal_penalty"]`; at
    the end their episode totals are in `info["episode_reward_<term>"]` and the profit in
    `info["pnl"]`.

    ## Episode End
    `terminated` after T/dt steps (the horizon is part of the task and inventory is valued there);
    never `truncated`.

    ## Arguments
    `config`: a `MarketMakingEnvConfig`; keyword overrides of its fields are merged section by
    section, e.g. `gym.make("tradebrain/MarketMaking-v0", market={"fill_k": 1.0})`.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(self, config: MarketMakingEnvConfig | None = None, **overrides: Any) -> None:
        self.config = with_overrides(config or MarketMakingEnvConfig(), overrides, "MarketMakingEnv keywords")
        self.core = MarketMakingCore(self.config, episodes=1)
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; `seed` fixes its mid path and fills, and every later one's."""
        super().reset(seed=seed)
        observation = self.core.reset(None if seed is None else [seed])
        return observation[0].copy(), {"inventory": self.core.simulator.ledger.item(1, 0)}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Quote for one step."""
        core = self.core
        done = core.step(action)
        info: dict[str, Any] = {f"reward_{name}": core.terms.item(row, 0) for row, name in enumerate(core.term_names)}
        info["inventory"] = core.simulator.inventory.item(0)
        if done:
            info |= {f"episode_reward_{name}": core.totals.item(row, 0) for row, name in enumerate(core.term_names)}
            info["pnl"] = core.simulator.profit().item(0)
        return core.observation[0].copy(), core.reward.item(0), done, False, info

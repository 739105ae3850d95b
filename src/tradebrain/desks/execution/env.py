"""`tradebrain/Execution-v0`, the single-episode Gymnasium env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from tradebrain.core.config import with_overrides
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.core import ExecutionCore


class ExecutionEnv(gym.Env[np.ndarray, Any]):
    """Liquidate (or acquire) a block of shares before a deadline, Almgren-Chriss style.

    ## Action Space
    `action: continuous` (default): `Box(0, 1, (1,))`, the fraction of the remaining inventory to
    trade this interval. `action: discrete`: `Discrete(7)`, a multiple (0, 0.5, 1, 1.5, 2, 3, 5) of
    the TWAP rate of what is left (inventory / intervals left); never more than is left. An action
    outside the space raises `InputError`. At the last interval everything left is traded whatever
    the action (the deadline is part of the env, not the policy).

    ## Observation Space
    `Box(-inf, inf, (6 + lookback,), float32)`: time left (fraction of T), inventory left (fraction
    of X), the last `lookback` mid returns and their RMS (realised volatility), in units of
    sigma*sqrt(tau); mid vs arrival price in units of sigma*sqrt(T); permanent impact so far and the
    half spread epsilon in units of sigma*sqrt(tau).

    ## Rewards
    Per interval, in basis points of the arrival notional X*s0: `shortfall` = minus the
    mark-to-market implementation-shortfall increment, and `risk` = minus lambda*sigma^2*tau*x_k^2
    (x_k the holdings carried into the next interval). Maximising the return minimises E + lambda*V.
    Each step's terms are in `info["reward_shortfall"]` and `info["reward_risk"]`; at the end, the
    episode totals are in `info["episode_reward_shortfall"]` and `["episode_reward_risk"]`, and the
    implementation shortfall in $ in `info["implementation_shortfall"]`.

    ## Episode End
    `terminated` after `steps` intervals, when the deadline forces the last trade: nothing is left
    to trade, a true terminal state. Never `truncated`.

    ## Arguments
    `config`: an `ExecutionEnvConfig` (market, task, action variant); keyword overrides of its
    fields are accepted too, e.g. `gym.make("tradebrain/Execution-v0", action="discrete")`; a
    section given as a mapping is merged into `config`'s (`market={"sigma": 0.5}` keeps the rest),
    and a bad keyword raises `ConfigError` naming it.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(self, config: ExecutionEnvConfig | None = None, **overrides: Any) -> None:
        self.config = with_overrides(config or ExecutionEnvConfig(), overrides, "ExecutionEnv keywords")
        self.core = ExecutionCore(self.config, episodes=1)
        self.observation_space = self.core.observer.space
        self.action_space = self.core.actions.space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; `seed` fixes its price path and every later one's."""
        super().reset(seed=seed)
        observation = self.core.reset(None if seed is None else [seed])
        return observation[0].copy(), {"inventory": self.core.simulator.inventory.item(0)}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Trade for one interval."""
        core = self.core
        done = core.step(action)
        simulator = core.simulator
        info: dict[str, Any] = {
            "reward_shortfall": core.terms.item(0, 0),
            "reward_risk": core.terms.item(1, 0),
            "inventory": simulator.inventory.item(0),
        }
        if done:
            info["implementation_shortfall"] = simulator.implementation_shortfall().item(0)
            info["episode_reward_shortfall"] = core.totals.item(0, 0)
            info["episode_reward_risk"] = core.totals.item(1, 0)
        return core.observation[0].copy(), core.reward.item(0), done, False, info

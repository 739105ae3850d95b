"""Market-making baselines of Avellaneda & Stoikov (2008): the inventory strategy and the symmetric one.

Both are functions of (time, inventory, mid) vectorised over episodes that return the quote
distances (delta_b, delta_a) from the mid, which is what MarketMakingSimulator.step takes.

Inventory strategy: reservation price r = s - q*gamma*sigma^2*(T - t) and total spread
gamma*sigma^2*(T - t) + (2/gamma)*ln(1 + gamma/k), centred on r, so
    delta_a = r + spread/2 - s,    delta_b = s - (r - spread/2).
With a large inventory one distance is negative (a quote through the mid, e.g. an ask below the
mid to shed a long position). It is kept as it is, exactly as in the paper: the simulator caps
the fill probability at 1.

Symmetric strategy: centred on the mid, with the constant spread equal to the inventory strategy's
average over the horizon, gamma*sigma^2*T/2 + (2/gamma)*ln(1 + gamma/k).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tradebrain.core.errors import InputError
from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.glft import GlftParams, glft_exact_quotes
from tradebrain.desks.market_making.market import MarketMakingConfig
from tradebrain.rl.policy import ActionKind

TIME_LEFT, INVENTORY = 0, 1
"""Observation columns the quoting policies read (see desks/market_making/kernels.py)."""

QuoteRule = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(time, inventory) -> (delta_b, delta_a), vectorised over episodes."""


def _check_gamma(gamma: float) -> None:
    if not (math.isfinite(gamma) and gamma > 0):
        raise InputError(f"gamma (risk aversion) must be a finite number > 0, got {gamma}")


def base_spread(gamma: float, k: float) -> float:
    """(2/gamma)*ln(1 + gamma/k): the part of the spread that compensates for the fill intensity."""
    _check_gamma(gamma)
    return 2.0 / gamma * math.log1p(gamma / k)


def average_spread(gamma: float, config: MarketMakingConfig) -> float:
    """gamma*sigma^2*T/2 + (2/gamma)*ln(1 + gamma/k): the inventory strategy's spread averaged over [0, T]."""
    return gamma * config.sigma**2 * config.horizon / 2.0 + base_spread(gamma, config.k)


def reservation_price(
    time: float | np.ndarray, inventory: np.ndarray, mid: np.ndarray, gamma: float, config: MarketMakingConfig
) -> np.ndarray:
    """r = s - q*gamma*sigma^2*(T - t): the mid shaded against the inventory held."""
    result: np.ndarray = np.asarray(mid, dtype=float) - np.asarray(inventory, dtype=float) * gamma * config.sigma**2 * (
        config.horizon - time
    )
    return result


def inventory_spread(time: float | np.ndarray, gamma: float, config: MarketMakingConfig) -> float | np.ndarray:
    """Total spread of the inventory strategy at `time`: gamma*sigma^2*(T - t) + (2/gamma)*ln(1 + gamma/k)."""
    return gamma * config.sigma**2 * (config.horizon - time) + base_spread(gamma, config.k)


def inventory_quotes(
    time: float | np.ndarray, inventory: np.ndarray, mid: np.ndarray, gamma: float, config: MarketMakingConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(delta_b, delta_a) of the A-S inventory strategy: the spread centred on the reservation price.

    The distances may be negative (a quote through the mid); they are not clipped (see the module doc).
    """
    mid = np.asarray(mid, dtype=float)
    r = reservation_price(time, inventory, mid, gamma, config)
    half = inventory_spread(time, gamma, config) / 2.0
    return mid - (r - half), r + half - mid


def symmetric_quotes(
    time: float | np.ndarray, inventory: np.ndarray, mid: np.ndarray, gamma: float, config: MarketMakingConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(delta_b, delta_a) of the symmetric strategy: half the average spread either side of the mid,
    whatever the time and inventory (both arguments are taken only to share the inventory strategy's
    signature)."""
    half = np.full(np.shape(mid), average_spread(gamma, config) / 2.0)
    return half, half.copy()


class QuotingPolicy:
    """A quoting rule (time, inventory, mid) -> (delta_b, delta_a) as a Policy on `MarketMaking-v0`.

    Reads time left and inventory from the observation and returns normalised actions; distances
    outside the env's [min_offset, max_offset] are clipped to it (documented in the env)."""

    action_kind: ActionKind = "continuous"

    def __init__(self, name: str, quotes: QuoteRule, config: MarketMakingEnvConfig) -> None:
        self.name = name
        self.quotes = quotes
        self.config = config

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """Normalised (bid, ask) actions for a batch of observations."""
        observations = np.asarray(observations, dtype=float)
        market = self.config.market
        time = market.horizon * (1.0 - observations[:, TIME_LEFT])
        inventory = np.rint(observations[:, INVENTORY] * self.config.inventory_scale)
        bid, ask = self.quotes(time, inventory)
        actions: np.ndarray = np.stack([self.config.actions_for(bid), self.config.actions_for(ask)], axis=1)
        result: np.ndarray = np.clip(np.nan_to_num(actions, nan=1.0), -1.0, 1.0).astype(np.float32)
        return result


def avellaneda_stoikov(config: MarketMakingEnvConfig, gamma: float) -> QuotingPolicy:
    """The A-S inventory strategy (reservation price and spread of the paper) as a Policy."""
    market = config.market

    def quotes(time: np.ndarray, inventory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return inventory_quotes(time, inventory, np.zeros_like(inventory), gamma, market)

    return QuotingPolicy("A-S inventory", quotes, config)


def symmetric(config: MarketMakingEnvConfig, gamma: float) -> QuotingPolicy:
    """The symmetric strategy: half the A-S average spread either side of the mid, always."""
    market = config.market

    def quotes(time: np.ndarray, inventory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return symmetric_quotes(time, inventory, np.zeros_like(inventory), gamma, market)

    return QuotingPolicy("symmetric", quotes, config)


def gueant_lehalle_fernandez_tapia(config: MarketMakingEnvConfig, gamma: float, bound: int) -> QuotingPolicy:
    """GLFT quotes (exact solution) for inventory bounded by `bound` (no quote on the breaching side:
    a NaN distance, sent as the farthest quote)."""
    market = config.market
    params = GlftParams(
        sigma=market.sigma, A=market.A, k=market.k, gamma=gamma, horizon=market.horizon, max_inventory=bound
    )

    def quotes(time: np.ndarray, inventory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        time_left = np.clip(market.horizon - time, 0.0, market.horizon)
        return glft_exact_quotes(params, time_left, np.clip(inventory, -bound, bound))

    return QuotingPolicy("GLFT", quotes, config)

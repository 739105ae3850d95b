"""Everything that defines one market-making env: the market, the quote bounds and the reward."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from pydantic import Field, model_validator

from tradebrain.core.config import StrictModel
from tradebrain.desks.market_making.market import MarketMakingConfig

ArrayOrFloat = TypeVar("ArrayOrFloat", float, np.ndarray)


class MarketMakingEnvConfig(StrictModel):
    """A market-making env.

    Actions in [-1, 1] map linearly to quote distances from the mid in [min_offset, max_offset] $;
    the reward penalises inventory by `inventory_penalty` * q^2 * dt every step (the default,
    gamma*sigma^2/2 with the A-S paper's gamma = 0.1, makes the return a mean-variance utility)
    and by `terminal_penalty` * q_T^2 at the end.
    """

    market: MarketMakingConfig = MarketMakingConfig()
    min_offset: float = Field(
        -3.0, description="quote distance from the mid at action -1, $ (negative: through the mid)"
    )
    max_offset: float = Field(5.0, description="quote distance from the mid at action +1, $")
    inventory_penalty: float = Field(0.2, ge=0, description="phi: running penalty phi*q^2*dt")
    terminal_penalty: float = Field(0.0, ge=0, description="penalty per squared unit of final inventory, $")
    lookback: int = Field(10, ge=1, le=500, description="past mid returns observed")
    inventory_scale: float = Field(10.0, gt=0, description="inventory is observed as q / inventory_scale")

    @model_validator(mode="after")
    def _bounds(self) -> MarketMakingEnvConfig:
        if not self.min_offset < self.max_offset:
            raise ValueError(f"min_offset ({self.min_offset:g}) must be below max_offset ({self.max_offset:g})")
        return self

    def offsets(self, actions: ArrayOrFloat) -> ArrayOrFloat:
        """Quote distance of a normalised action (the inverse of `actions_for`)."""
        return self.min_offset + (actions + 1.0) * (self.max_offset - self.min_offset) / 2.0

    def actions_for(self, offsets: ArrayOrFloat) -> ArrayOrFloat:
        """Normalised action of a quote distance, for baselines that think in $."""
        return 2.0 * (offsets - self.min_offset) / (self.max_offset - self.min_offset) - 1.0

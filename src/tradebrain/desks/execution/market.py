"""The execution desk's market and task (Almgren-Chriss units: $, shares, days): a mid-price
process with linear impact, and the block to trade before a deadline."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from tradebrain.core.config import StrictModel
from tradebrain.core.errors import ConfigError
from tradebrain.market.config import PriceProcessConfig


class MarketConfig(PriceProcessConfig):
    """The unaffected mid-price process plus Almgren-Chriss linear impact."""

    epsilon: float = Field(0.0625, ge=0, description="fixed temporary cost: half spread + fees, $/share")
    eta: float = Field(2.5e-6, gt=0, description="linear temporary impact, $/share per share/day")
    gamma: float = Field(2.5e-7, ge=0, description="linear permanent impact, $/share per share")


class LiquidationTask(StrictModel):
    """Trade `shares` (sell or buy) over `horizon` days in `steps` equal intervals."""

    shares: float = Field(1_000_000.0, gt=0, description="X: block size, shares")
    horizon: float = Field(5.0, gt=0, description="T: deadline, days")
    steps: int = Field(5, ge=1, le=10_000, description="N: number of trading intervals")
    side: Literal["sell", "buy"] = "sell"
    risk_aversion: float = Field(1e-6, ge=0, description="lambda: weight of variance in E + lambda*V, 1/$")

    @property
    def tau(self) -> float:
        """Length of one interval in days."""
        return self.horizon / self.steps

    @property
    def sign(self) -> int:
        """+1 for a sale, -1 for a purchase: impact pushes the price in the direction -sign."""
        return 1 if self.side == "sell" else -1


def eta_tilde(market: MarketConfig, task: LiquidationTask) -> float:
    """Temporary impact net of the permanent-impact discretisation term, eta - gamma*tau/2."""
    return market.eta - market.gamma * task.tau / 2.0


def check_liquidation(market: MarketConfig, task: LiquidationTask) -> None:
    """Reject a market/task pair whose Almgren-Chriss cost is not convex (eta_tilde <= 0)."""
    value = eta_tilde(market, task)
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(
            f"eta_tilde = eta - gamma*tau/2 = {market.eta:g} - {market.gamma:g}*{task.tau:g}/2 = {value:g} "
            "must be > 0: raise market.eta, lower market.gamma, or use more steps (smaller tau)"
        )

"""Parameters of the simulated market and of a liquidation task (Almgren-Chriss units: $, shares, days)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from tradebrain.core.config import StrictModel
from tradebrain.core.errors import ConfigError


class MarketConfig(StrictModel):
    """The unaffected mid-price process plus Almgren-Chriss linear impact.

    `sigma` is the arithmetic volatility in $/share/day^0.5 (for `gbm` the $ volatility at `s0`);
    `drift` is the expected mid change in $/share/day (for `gbm` the relative drift drift/s0).
    """

    process: Literal["abm", "gbm", "ou", "garch"] = "abm"
    s0: float = Field(50.0, gt=0, description="arrival mid price, $/share (also the OU long-run mean)")
    sigma: float = Field(0.95, ge=0, description="volatility, $/share/day^0.5")
    drift: float = Field(0.0, description="alpha: expected mid change, $/share/day (not with ou)")
    ou_theta: float = Field(0.0, ge=0, description="OU mean-reversion speed, 1/day (process=ou)")
    garch_alpha: float = Field(0.10, ge=0, description="GARCH(1,1) weight of the last squared shock")
    garch_beta: float = Field(0.85, ge=0, description="GARCH(1,1) weight of the last variance")
    epsilon: float = Field(0.0625, ge=0, description="fixed temporary cost: half spread + fees, $/share")
    eta: float = Field(2.5e-6, gt=0, description="linear temporary impact, $/share per share/day")
    gamma: float = Field(2.5e-7, ge=0, description="linear permanent impact, $/share per share")
    lookback: int = Field(4, ge=1, le=256, description="pre-arrival steps observed, for returns and volatility")

    @model_validator(mode="after")
    def _process_parameters(self) -> MarketConfig:
        if self.process == "garch" and self.garch_alpha + self.garch_beta >= 1:
            raise ValueError(
                f"garch_alpha + garch_beta = {self.garch_alpha + self.garch_beta:g} must be < 1 "
                "for a finite unconditional variance; lower one of them"
            )
        if self.process == "ou" and self.drift != 0:
            raise ValueError("an OU mid reverts to s0 and takes no drift; set drift: 0 or use process: abm")
        if self.process == "ou" and self.ou_theta <= 0:
            raise ValueError("process: ou needs ou_theta > 0 (mean-reversion speed, 1/day)")
        return self


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

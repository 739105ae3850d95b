"""Parameters of a simulated mid-price process (units: $, days): what `market/prices.py` draws."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tradebrain.core.config import StrictModel


class PriceProcessConfig(StrictModel):
    """The unaffected mid-price process: arithmetic or geometric Brownian motion, a mean-reverting
    Ornstein-Uhlenbeck mid, or GARCH(1,1) volatility, with `lookback` pre-arrival points.

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
    lookback: int = Field(4, ge=1, le=256, description="pre-arrival steps observed, for returns and volatility")

    @model_validator(mode="after")
    def _process_parameters(self) -> PriceProcessConfig:
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

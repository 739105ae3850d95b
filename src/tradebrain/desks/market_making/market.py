"""Parameters of the Avellaneda-Stoikov market-making market (units: $, units of the asset, horizon = 1).

Defaults are the simulation of Avellaneda & Stoikov (2008), "High-frequency trading in a limit order
book": s0 = 100, T = 1, sigma = 2, dt = 0.005, A = 140, k = 1.5, q0 = 0, binomial mid.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from tradebrain.core.config import StrictModel

STEP_TOLERANCE = 1e-9
"""Relative slack when checking that the horizon is a whole number of steps."""


class MarketMakingConfig(StrictModel):
    """The mid process, the fill intensities lambda(delta) = A*exp(-k*delta) and the trading rules.

    `A` and `k` are the intensities the strategies assume; `fill_A` and `fill_k` are the TRUE
    intensities the simulator fills with (None = the same), so a model mismatch is one setting away.
    """

    s0: float = Field(100.0, gt=0, description="initial mid price, $")
    horizon: float = Field(1.0, gt=0, description="T: terminal time (the paper's unit of time)")
    sigma: float = Field(2.0, ge=0, description="mid volatility, $ per unit time^0.5")
    dt: float = Field(0.005, gt=0, description="time step; the horizon must be a whole number of steps")
    A: float = Field(140.0, gt=0, description="assumed fill intensity at zero distance, fills per unit time")
    k: float = Field(1.5, gt=0, description="assumed decay of the fill intensity with distance, 1/$")
    q0: int = Field(0, description="initial inventory, units")
    mid: Literal["binomial", "brownian"] = "binomial"
    drift: float = Field(0.0, description="expected mid change, $ per unit time (mid: brownian)")
    vol_of_vol: float = Field(0.0, ge=0, description="volatility of log-volatility per unit time^0.5; 0 = off")
    fee: float = Field(0.0, ge=0, description="fee per fill, $ per unit")
    max_inventory: int | None = Field(None, ge=0, description="|q| limit: the side that would breach it is not quoted")
    fill_A: float | None = Field(None, gt=0, description="true A the fills use (None = A)")  # noqa: N815 (the paper's symbol)
    fill_k: float | None = Field(None, gt=0, description="true k the fills use (None = k)")

    @model_validator(mode="after")
    def _consistent(self) -> MarketMakingConfig:
        if self.dt > self.horizon:
            raise ValueError(f"dt = {self.dt:g} is longer than horizon = {self.horizon:g}; lower dt")
        steps = self.horizon / self.dt
        if abs(steps - round(steps)) > STEP_TOLERANCE * steps:
            raise ValueError(
                f"horizon / dt = {steps:g} must be a whole number of steps; pick dt = horizon / n "
                f"(e.g. dt = {self.horizon / max(1, round(steps)):g})"
            )
        for name, value in (("A", self.A), ("fill_A", self.fill_A)):
            if value is not None and value * self.dt > 1:
                raise ValueError(
                    f"{name} * dt = {value:g} * {self.dt:g} = {value * self.dt:g} > 1: the fill probability "
                    f"at zero distance would exceed one; lower {name} or dt (dt <= {1 / value:g})"
                )
        if self.mid == "binomial" and (self.drift != 0 or self.vol_of_vol != 0):
            raise ValueError(
                "the binomial mid (the paper's) has no drift and a constant volatility; "
                "set mid: brownian to use drift or vol_of_vol"
            )
        if self.max_inventory is not None and abs(self.q0) > self.max_inventory:
            raise ValueError(f"|q0| = {abs(self.q0)} exceeds max_inventory = {self.max_inventory}; lower q0")
        return self

    @property
    def steps(self) -> int:
        """Number of time steps, horizon / dt."""
        return max(1, round(self.horizon / self.dt))

    @property
    def true_A(self) -> float:  # noqa: N802 (the paper's symbol)
        """A the simulator fills with."""
        return self.A if self.fill_A is None else self.fill_A

    @property
    def true_k(self) -> float:
        """k the simulator fills with."""
        return self.k if self.fill_k is None else self.fill_k

    def fill_probability(self, delta: float) -> float:
        """Probability that a quote at distance `delta` from the mid is hit within one step (true A, k)."""
        return min(1.0, self.true_A * math.exp(-self.true_k * delta) * self.dt)

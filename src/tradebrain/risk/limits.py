"""Hard risk limits, as a frozen config: the single source of truth the RiskGate enforces."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tradebrain.core.config import StrictModel


class RiskLimits(StrictModel):
    """Hard limits every order passes (None switches a limit off).

    Fractions are of NAV (cash + positions at their marks) and must lie in (0, 1]; NaN and
    infinities are rejected by StrictModel.

    - `max_position_pct`: max |position value| of one instrument / NAV (e.g. 0.02).
    - `max_gross_leverage`: max sum of |position value| / NAV (> 0, may exceed 1).
    - `max_daily_loss_pct`: kill switch; when equity is this fraction or more below the day's
      starting equity, flatten everything and accept no new risk until the next UTC date.
    - `max_drawdown_pct`: stop; when equity is this fraction or more below its peak, flatten and
      accept no new risk until `RiskGate.reset()`.
    - `var_limit_pct`: max one-day VaR (at `var_level`, 99% by default) of the book an order leaves,
      as a fraction of NAV; checked only when the caller hands returns to `RiskGate.review`.
    - `var_method`: "historical" (empirical loss quantile) or "parametric" (normal).
    - `var_window`: number of most recent daily returns used for VaR.
    """

    max_position_pct: float | None = Field(default=None, gt=0.0, le=1.0)
    max_gross_leverage: float | None = Field(default=None, gt=0.0)
    max_daily_loss_pct: float | None = Field(default=None, gt=0.0, le=1.0)
    max_drawdown_pct: float | None = Field(default=None, gt=0.0, le=1.0)
    var_limit_pct: float | None = Field(default=None, gt=0.0, le=1.0)
    var_method: Literal["historical", "parametric"] = "historical"
    var_window: int = Field(default=250, ge=2)
    var_level: float = Field(default=0.99, gt=0.5, lt=1.0)

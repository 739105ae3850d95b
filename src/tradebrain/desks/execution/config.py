"""Everything that defines one execution env: market, task, action variant and reward scale."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from tradebrain.core.config import StrictModel
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig, check_liquidation

TWAP_MULTIPLES: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)


class ExecutionEnvConfig(StrictModel):
    """An execution env: what is traded, on which market, with which actions.

    `reward_unit_bps`: rewards are in basis points of the arrival notional X*s0 (a constant scale,
    so the optimum is unchanged); the dollar terms are in `info`.
    """

    market: MarketConfig = MarketConfig()
    task: LiquidationTask = LiquidationTask()
    action: Literal["discrete", "continuous"] = "continuous"
    twap_multiples: tuple[float, ...] = Field(TWAP_MULTIPLES, min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> ExecutionEnvConfig:
        check_liquidation(self.market, self.task)
        if not all(math.isfinite(m) and m >= 0 for m in self.twap_multiples):
            raise ValueError("twap_multiples must be finite and >= 0 (multiples of the TWAP rate left)")
        return self

    @property
    def dollars_per_reward_unit(self) -> float:
        """$ value of one reward unit: one basis point of the arrival notional."""
        return self.task.shares * self.market.s0 * 1e-4

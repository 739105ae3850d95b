"""RiskLimits: fractions in (0, 1], leverage > 0, NaN and unknown keys rejected."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from tradebrain.risk import RiskLimits


def test_defaults_switch_every_limit_off() -> None:
    limits = RiskLimits()
    assert limits.max_position_pct is None and limits.max_gross_leverage is None
    assert limits.var_method == "historical" and limits.var_window == 250 and limits.var_level == 0.99


def test_leverage_may_exceed_one() -> None:
    assert RiskLimits(max_gross_leverage=3.0).max_gross_leverage == 3.0


@pytest.mark.parametrize("field", ["max_position_pct", "max_daily_loss_pct", "max_drawdown_pct", "var_limit_pct"])
@pytest.mark.parametrize("value", [0.0, -0.1, 1.5, math.nan, math.inf])
def test_fractions_outside_zero_one_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        RiskLimits(**{field: value})


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan])
def test_leverage_must_be_positive(value: float) -> None:
    with pytest.raises(ValidationError):
        RiskLimits(max_gross_leverage=value)


def test_unknown_key_method_and_window_are_rejected() -> None:
    with pytest.raises(ValidationError):
        RiskLimits.model_validate({"max_position": 0.1})
    with pytest.raises(ValidationError):
        RiskLimits.model_validate({"var_method": "montecarlo"})
    with pytest.raises(ValidationError):
        RiskLimits(var_window=1)

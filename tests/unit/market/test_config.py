"""PriceProcessConfig rejects a process whose parameters make no sense, with a message that says why."""

from __future__ import annotations

import pydantic
import pytest

from tradebrain.market.config import PriceProcessConfig


@pytest.mark.parametrize("alpha, beta", [(0.15, 0.85), (0.5, 0.6), (1.0, 0.0)])
def test_garch_needs_alpha_plus_beta_below_one(alpha: float, beta: float) -> None:
    with pytest.raises(pydantic.ValidationError, match=r"garch_alpha \+ garch_beta"):
        PriceProcessConfig(process="garch", garch_alpha=alpha, garch_beta=beta)
    # the same numbers are irrelevant, hence accepted, for another process
    assert PriceProcessConfig(process="abm", garch_alpha=alpha, garch_beta=beta).process == "abm"


def test_garch_just_below_one_accepted() -> None:
    market = PriceProcessConfig(process="garch", garch_alpha=0.1, garch_beta=0.8999)
    assert market.garch_alpha + market.garch_beta < 1


def test_ou_takes_no_drift() -> None:
    with pytest.raises(pydantic.ValidationError, match="takes no drift"):
        PriceProcessConfig(process="ou", ou_theta=1.0, drift=0.1)


def test_ou_needs_positive_theta() -> None:
    with pytest.raises(pydantic.ValidationError, match="ou_theta > 0"):
        PriceProcessConfig(process="ou", ou_theta=0.0)
    assert PriceProcessConfig(process="ou", ou_theta=0.5).ou_theta == 0.5


def test_unknown_process_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="process"):
        PriceProcessConfig(process="heston")  # type: ignore[arg-type]


@pytest.mark.parametrize("lookback", [0, 257])
def test_lookback_bounds(lookback: int) -> None:
    with pytest.raises(pydantic.ValidationError, match="lookback"):
        PriceProcessConfig(lookback=lookback)

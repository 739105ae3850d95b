"""A-S inventory and symmetric quotes: closed-form values at a hand-computed point, average spread."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradebrain.core.errors import InputError
from tradebrain.desks.market_making.baselines import (
    average_spread,
    inventory_quotes,
    inventory_spread,
    reservation_price,
    symmetric_quotes,
)
from tradebrain.desks.market_making.simulator import MarketMakingConfig

PAPER = MarketMakingConfig()


def test_inventory_strategy_by_hand() -> None:
    # s = 100, q = 2, t = 0.5, gamma = 0.1, sigma = 2, T = 1, k = 1.5
    # r = 100 - 2 * 0.1 * 4 * 0.5 = 99.6; spread = 0.1 * 4 * 0.5 + 20 * ln(16/15) = 0.2 + 1.2907704...
    q, s = np.array([2.0, -1.0, 0.0]), np.full(3, 100.0)
    r = reservation_price(0.5, q, s, 0.1, PAPER)
    np.testing.assert_allclose(r, [99.6, 100.2, 100.0], rtol=1e-15)
    spread = 0.2 + 20 * math.log(16 / 15)
    assert spread == pytest.approx(1.4907704, abs=1e-7)
    assert inventory_spread(0.5, 0.1, PAPER) == pytest.approx(spread, rel=1e-14)
    delta_b, delta_a = inventory_quotes(0.5, q, s, 0.1, PAPER)
    np.testing.assert_allclose(delta_a, [-0.4 + spread / 2, 0.2 + spread / 2, spread / 2], rtol=1e-12)
    np.testing.assert_allclose(delta_b, [0.4 + spread / 2, -0.2 + spread / 2, spread / 2], rtol=1e-12)
    np.testing.assert_allclose(delta_a + delta_b, spread, rtol=1e-14)


def test_a_large_inventory_quotes_through_the_mid() -> None:
    # q = 5 at t = 0: r = 100 - 5 * 0.1 * 4 = 98, half spread 0.845: the ask sits 1.155 below the mid
    delta_b, delta_a = inventory_quotes(0.0, np.array([5.0]), np.array([100.0]), 0.1, PAPER)
    assert delta_a[0] < 0 < delta_b[0]
    assert delta_a[0] == pytest.approx(-2.0 + (0.4 + 20 * math.log(16 / 15)) / 2, rel=1e-12)


@pytest.mark.parametrize("gamma", [0.01, 0.1, 1.0])
def test_symmetric_spread_is_constant_and_the_time_average(gamma: float) -> None:
    expected = gamma * PAPER.sigma**2 * PAPER.horizon / 2 + (2 / gamma) * math.log(1 + gamma / PAPER.k)
    assert average_spread(gamma, PAPER) == pytest.approx(expected, rel=1e-14)
    times = np.linspace(0.0, PAPER.horizon, 2001)
    spreads = np.array([inventory_spread(t, gamma, PAPER) for t in times])
    # the inventory spread is linear in t, so the trapezoidal mean over [0, T] is exact
    assert np.trapezoid(spreads, times) / PAPER.horizon == pytest.approx(expected, rel=1e-12)
    for t, q in ((0.0, 3.0), (0.4, -7.0), (0.99, 0.0)):
        delta_b, delta_a = symmetric_quotes(t, np.array([q, 0.0]), np.array([100.0, 90.0]), gamma, PAPER)
        np.testing.assert_allclose(delta_b, expected / 2, rtol=1e-12)
        np.testing.assert_allclose(delta_a, expected / 2, rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, -0.1, math.nan])
def test_bad_gamma_is_rejected(gamma: float) -> None:
    with pytest.raises(InputError, match="gamma"):
        average_spread(gamma, PAPER)

"""Historical and parametric VaR against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradebrain.core.errors import InputError
from tradebrain.risk import historical_var, parametric_var

Z99 = 2.3263478740408408  # standard normal 0.99 quantile


def test_historical_var_single_asset_interpolates_order_statistics() -> None:
    # losses 0.01 .. 1.00; the 0.99 quantile sits at 98.01 in the sorted list: 0.99 + 0.01 * 0.01
    returns = (-0.01 * np.arange(1, 101)).reshape(-1, 1)
    assert historical_var(np.array([1.0]), returns) == pytest.approx(0.9901)
    assert historical_var(np.array([0.5]), returns) == pytest.approx(0.49505)


def test_historical_var_two_assets() -> None:
    # portfolio returns 0.01, -0.02, 0.03, 0.06 -> sorted losses -0.06, -0.03, -0.01, 0.02
    returns = np.array([[0.01, 0.0], [-0.02, 0.0], [0.03, 0.0], [-0.04, 0.1]])
    weights = np.array([1.0, 1.0])
    assert historical_var(weights, returns) == pytest.approx(-0.01 + 0.97 * 0.03)  # position 2.97
    assert historical_var(weights, returns, level=0.5) == pytest.approx(-0.02)  # position 1.5


def test_parametric_var_single_asset() -> None:
    # mean 0, sample variance (0.01^2 + 0.01^2) / 1 = 0.0002
    returns = np.array([[0.01], [-0.01]])
    assert parametric_var(np.array([1.0]), returns) == pytest.approx(Z99 * math.sqrt(0.0002))


def test_parametric_var_two_assets_uses_covariance_and_mean() -> None:
    # means 0.01 each, variances 0.0002 each, covariance -0.0002
    returns = np.array([[0.02, 0.0], [0.0, 0.02]])
    assert parametric_var(np.array([1.0, 1.0]), returns) == pytest.approx(-0.02)  # perfect hedge: -w'μ
    # w'Σw = 0.0002 + 0.25 * 0.0002 - 0.0002 = 0.00005; w'μ = 0.015
    expected = Z99 * math.sqrt(0.00005) - 0.015
    assert parametric_var(np.array([1.0, 0.5]), returns) == pytest.approx(expected)


def test_empty_book_has_zero_var() -> None:
    returns = np.array([[0.01, -0.03], [-0.02, 0.05], [0.0, 0.01]])
    assert historical_var(np.zeros(2), returns) == 0.0
    assert parametric_var(np.zeros(2), returns) == 0.0


@pytest.mark.parametrize(
    ("weights", "returns"),
    [
        (np.array([1.0, 1.0]), np.zeros((5, 3))),  # shape mismatch
        (np.array([1.0]), np.zeros((1, 1))),  # one day only
        (np.array([math.nan]), np.zeros((5, 1))),
        (np.array([1.0]), np.array([[0.0], [math.nan]])),
    ],
)
def test_bad_inputs_are_rejected(weights: np.ndarray, returns: np.ndarray) -> None:
    with pytest.raises(InputError):
        historical_var(weights, returns)
    with pytest.raises(InputError):
        parametric_var(weights, returns)


def test_compiled_quantiles_equal_numpy_bit_for_bit() -> None:
    from tradebrain.risk.var import linear_quantile, upper_quantile

    rng = np.random.default_rng(7)
    for i in range(3000):
        values = rng.normal(size=int(rng.integers(2, 300)))
        if i % 3 == 0:
            values = np.round(values, 1)  # ties
        level = float(rng.choice([0.5, 0.95, 0.975, 0.99, rng.uniform(0.51, 0.999)]))
        assert linear_quantile(np.sort(values), level) == np.quantile(values, level)
        assert upper_quantile(values, level) == np.quantile(values, level)

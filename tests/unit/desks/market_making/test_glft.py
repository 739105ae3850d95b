"""GLFT quotes: the eigen path against scipy's expm, the asymptotic closed form, bounds, shape of the quotes."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy.linalg import expm

from tradebrain.core.errors import InputError
from tradebrain.desks.market_making.glft import (
    GlftParams,
    glft_asymptotic_quotes,
    glft_exact_quotes,
    glft_log_value,
    glft_matrix,
)

# The Avellaneda-Stoikov paper's parameters, with the inventory bound of the brief.
AS_PARAMS: dict[str, Any] = {"sigma": 2.0, "A": 140.0, "k": 1.5, "gamma": 0.1, "horizon": 1e4, "max_inventory": 30}
LONG = 1e3  # time left for the asymptotic comparison: the spectral gap is ~2*sqrt(alpha*eta) ~ 7.7, so LONG*gap ~ 8e3


def _expm_quotes(params: GlftParams, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log v, delta_b, delta_a over q = -Q..Q straight from the paper's formulas with scipy.linalg.expm.

    v = exp(lam0*tau) * expm(-(M - lam0*I)*tau) 1, lam0 = the smallest eigenvalue, so that v does not
    overflow for the A-S parameters at tau = 10; the factor cancels in the quotes.
    """
    matrix = glft_matrix(params)
    lam0 = float(np.linalg.eigvalsh(matrix)[0])
    scaled = expm(-(matrix - lam0 * np.eye(len(matrix))) * tau) @ np.ones(len(matrix))
    base = math.log1p(params.gamma / params.k) / params.gamma
    delta_b = np.append(np.log(scaled[:-1] / scaled[1:]) / params.k + base, np.nan)
    delta_a = np.insert(np.log(scaled[1:] / scaled[:-1]) / params.k + base, 0, np.nan)
    return np.log(scaled) - lam0 * tau, delta_b, delta_a


def test_eigen_path_equals_expm_on_random_small_cases() -> None:
    rng = np.random.default_rng(20130711)
    for _ in range(40):
        params = GlftParams(
            sigma=float(rng.uniform(0.5, 2.0)),
            A=float(rng.uniform(20.0, 200.0)),
            k=float(rng.uniform(0.5, 2.0)),
            gamma=float(rng.uniform(0.05, 0.5)),
            horizon=1.0,
            max_inventory=int(rng.integers(1, 6)),
        )
        tau = float(rng.uniform(0.0, 1.0))
        log_v, delta_b, delta_a = _expm_quotes(params, tau)
        np.testing.assert_allclose(np.exp(glft_log_value(params, tau)), np.exp(log_v), rtol=1e-10, atol=0)
        q = np.arange(-params.max_inventory, params.max_inventory + 1)
        got_b, got_a = glft_exact_quotes(params, tau, q)
        np.testing.assert_allclose(got_b, delta_b, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got_a, delta_a, rtol=0, atol=1e-10)


def test_eigen_path_equals_expm_at_the_as_parameters() -> None:
    # Q = 30: v's tails reach 1e-14 of its centre; a plain LAPACK eigenbasis was off by 7.5e-5 in log v here.
    params = GlftParams(**{**AS_PARAMS, "horizon": 10.0})
    for tau in (0.0, 0.01, 0.1, 1.0, 10.0):
        log_v, delta_b, delta_a = _expm_quotes(params, tau)
        np.testing.assert_allclose(glft_log_value(params, tau), log_v, rtol=0, atol=1e-10)
        got_b, got_a = glft_exact_quotes(params, tau, np.arange(-30, 31))
        np.testing.assert_allclose(got_b, delta_b, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got_a, delta_a, rtol=0, atol=1e-10)


def _asymptotic_error(params: GlftParams, q: np.ndarray) -> np.ndarray:
    exact_b, exact_a = glft_exact_quotes(params, LONG, q)
    asym_b, asym_a = glft_asymptotic_quotes(params, q)
    error: np.ndarray = np.maximum(np.abs(exact_b - asym_b), np.abs(exact_a - asym_a))
    return error


def test_exact_quotes_converge_to_the_asymptotic_closed_form() -> None:
    # The asymptotic form replaces the lattice Perron vector of M by the Gaussian exp(-c q^2/2),
    # c = sqrt(alpha/eta). On the lattice the Gaussian solves the eigen-equation only with
    # c = sqrt(alpha/eta)*exp(c/4), so the inventory term (2q+1)/2*C is off by a relative c/4 at leading
    # order (plus O(c^2 q^2) anharmonic terms). Tolerance: twice the leading term, c/2 relative.
    params = GlftParams(**AS_PARAMS)
    c = math.sqrt(params.alpha / params.eta)  # 0.0776 here
    q = np.arange(-3, 4)
    exact_b, exact_a = glft_exact_quotes(params, LONG, q)
    asym_b, asym_a = glft_asymptotic_quotes(params, q)
    base = params.base_distance
    np.testing.assert_array_less(np.abs(exact_b - asym_b), c / 2 * np.abs(asym_b - base))
    np.testing.assert_array_less(np.abs(exact_a - asym_a), c / 2 * np.abs(asym_a - base))
    # and the exact inventory term is the larger one, as the lattice correction exp(c/4) > 1 says
    assert np.all(np.abs(exact_b - base) > np.abs(asym_b - base))
    # the absolute gap at the test point is a few thousandths of a $ on quotes of ~0.5..0.8 $
    assert float(np.max(np.abs(exact_b - asym_b))) < 3e-3


def test_asymptotic_error_shrinks_as_the_inventory_bound_grows() -> None:
    q = np.array([-1, 0, 1])
    bounds = [2, 3, 4, 6, 8, 12, 30]
    errors = [float(_asymptotic_error(GlftParams(**{**AS_PARAMS, "max_inventory": b}), q).max()) for b in bounds]
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(errors))
    assert errors[0] > 0.1  # Q = 2: the bound dominates the quotes
    params = GlftParams(**AS_PARAMS)
    lattice_floor = math.sqrt(params.alpha / params.eta) / 2 * 1.5 * params.asymptotic_slope  # c/2 at |2q+1| = 3
    assert errors[-1] < lattice_floor


def test_asymptotic_error_shrinks_with_the_lattice_parameter() -> None:
    # A x 10 divides c = sqrt(alpha/eta) by sqrt(10): the relative error of the inventory term follows.
    q = np.array([0, 1, 2])
    relative = []
    for scale in (1.0, 10.0):
        params = GlftParams(**{**AS_PARAMS, "A": AS_PARAMS["A"] * scale})
        asym_b, _ = glft_asymptotic_quotes(params, q)
        relative.append(float(np.max(_asymptotic_error(params, q) / np.abs(asym_b - params.base_distance))))
    assert relative[1] < relative[0] / 2.5


def test_no_quote_on_the_side_that_breaches_the_bound() -> None:
    params = GlftParams(**{**AS_PARAMS, "horizon": 1.0})
    for quotes in (
        glft_exact_quotes(params, 0.5, np.array([-30, 30])),
        glft_asymptotic_quotes(params, np.array([-30, 30])),
    ):
        delta_b, delta_a = quotes
        assert np.isfinite(delta_b[0]) and np.isnan(delta_b[1])
        assert np.isnan(delta_a[0]) and np.isfinite(delta_a[1])


@pytest.mark.parametrize("tau", [0.0, 0.05, 1.0, 1e4])
def test_long_inventory_lowers_both_quotes_and_quotes_are_symmetric(tau: float) -> None:
    params = GlftParams(**AS_PARAMS)
    q = np.arange(-30, 31)
    delta_b, delta_a = glft_exact_quotes(params, tau, q)
    if tau == 0.0:  # v(T) = 1: both quotes sit at the risk-free distance
        np.testing.assert_allclose(delta_b[:-1], params.base_distance, atol=1e-12)
        np.testing.assert_allclose(delta_a[1:], params.base_distance, atol=1e-12)
    else:
        assert np.all(np.diff(delta_b[:-1]) > 0)  # bid moves away from the mid as q grows
        assert np.all(np.diff(delta_a[1:]) < 0)  # ask moves towards it
    np.testing.assert_allclose(delta_b[:-1], delta_a[::-1][:-1], rtol=0, atol=1e-12)  # delta_b(q) = delta_a(-q)
    asym_b, asym_a = glft_asymptotic_quotes(params, q)
    np.testing.assert_allclose(asym_b[:-1], asym_a[::-1][:-1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("bound", [30, 50])
def test_quotes_stay_finite_for_a_long_time_left(bound: int) -> None:
    params = GlftParams(**{**AS_PARAMS, "gamma": 1.0, "sigma": 3.0, "max_inventory": bound})
    q = np.arange(-bound, bound + 1)
    for tau in (1e-6, 1.0, 1e2, 1e4):
        delta_b, delta_a = glft_exact_quotes(params, tau, q)
        assert np.all(np.isfinite(delta_b[:-1])) and np.all(np.isfinite(delta_a[1:]))
    # at 1e4 the quotes are stationary: equal to those at 1e2
    np.testing.assert_allclose(glft_exact_quotes(params, 1e4, q)[0], glft_exact_quotes(params, 1e2, q)[0], atol=1e-9)


def test_quotes_broadcast_over_episodes() -> None:
    params = GlftParams(**{**AS_PARAMS, "horizon": 1.0})
    rng = np.random.default_rng(3)
    time_left = rng.uniform(0.0, 1.0, size=64)
    inventory = rng.integers(-29, 30, size=64)
    delta_b, delta_a = glft_exact_quotes(params, time_left, inventory)
    assert delta_b.shape == delta_a.shape == (64,)
    for i in (0, 17, 63):
        one_b, one_a = glft_exact_quotes(params, float(time_left[i]), np.array(inventory[i]))
        assert one_b == pytest.approx(delta_b[i], abs=1e-13) and one_a == pytest.approx(delta_a[i], abs=1e-13)
    scalar_time = glft_exact_quotes(params, 0.3, inventory.reshape(8, 8))
    assert scalar_time[0].shape == (8, 8)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sigma", -1.0),
        ("sigma", math.nan),
        ("A", 0.0),
        ("A", math.inf),
        ("k", -1.5),
        ("gamma", 0.0),
        ("horizon", 0.0),
        ("max_inventory", 0),
        ("max_inventory", 2.5),
        ("max_inventory", True),
    ],
)
def test_bad_params_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(InputError, match=f"GlftParams.{field} "):
        GlftParams(**{**AS_PARAMS, field: value})


@pytest.mark.parametrize(
    ("time_left", "inventory", "words"),
    [
        (-0.1, 0, "time_left must be >= 0"),
        (math.nan, 0, "time_left must be finite"),
        (2.0, 0, "time_left must be <= horizon"),
        (0.5, 31, r"inventory must lie in \[-30, 30\]"),
        (0.5, np.array([0.5]), "whole numbers"),
        (np.zeros(3), np.zeros(4, dtype=int), "must broadcast"),
    ],
)
def test_bad_inputs_are_rejected(time_left: Any, inventory: Any, words: str) -> None:
    params = GlftParams(**{**AS_PARAMS, "horizon": 1.0})
    with pytest.raises(InputError, match=words):
        glft_exact_quotes(params, time_left, inventory)

"""One-day Value at Risk of a portfolio of weights, historical and parametric (normal).

Weights are position values as fractions of NAV (signed, shorts negative); returns are simple
daily returns per asset, one row per day. VaR is reported as a loss, a positive number for a
book that can lose money, as a fraction of NAV. Written by hand because it is a few lines of
numpy and the risk layer must not depend on a heavy risk library.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import NormalDist
from typing import Literal

import numpy as np

from tradebrain.core.errors import InputError


def _check_returns(returns: np.ndarray, level: float) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2:
        raise InputError(f"returns must have shape (days, assets), got {r.shape}")
    if r.shape[0] < 2:
        raise InputError(f"VaR needs at least 2 days of returns, got {r.shape[0]}")
    if not np.all(np.isfinite(r)):
        raise InputError("returns must be finite (no NaN or inf); clean the data first")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must lie in (0, 1), got {level}")
    return r


def var_function(
    returns: np.ndarray, method: Literal["historical", "parametric"] = "historical", level: float = 0.99
) -> Callable[[np.ndarray], float]:
    """VaR as a function of the weights, with `returns` validated (and, for the parametric method,
    its mean and covariance computed) once: the risk gate evaluates many weights per order."""
    r = _check_returns(returns, level)
    if method == "historical":

        def historical(weights: np.ndarray) -> float:
            w = _check_weights(weights, r.shape[1])
            return float(np.quantile(-(r @ w), level))

        return historical
    mu = r.mean(axis=0)
    sigma = np.atleast_2d(np.cov(r, rowvar=False, ddof=1))
    z = NormalDist().inv_cdf(level)

    def parametric(weights: np.ndarray) -> float:
        w = _check_weights(weights, r.shape[1])
        return float(z * np.sqrt(max(float(w @ sigma @ w), 0.0)) - w @ mu)

    return parametric


def _check_weights(weights: np.ndarray, assets: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (assets,):
        raise InputError(f"weights must have shape ({assets},) to match the returns, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise InputError("weights must be finite (no NaN or inf)")
    return w


def historical_var(weights: np.ndarray, returns: np.ndarray, level: float = 0.99) -> float:
    """Historical VaR: the `level` quantile of the portfolio's daily losses over `returns`.

    Portfolio return on day t is r_t = returns[t] @ weights; the loss is -r_t; VaR is
    `np.quantile(losses, level)` with numpy's default linear interpolation between order
    statistics (Hyndman-Fan type 7). E.g. losses 1..100 at 0.99: position 0.99 * 99 = 98.01 in
    the sorted losses, so 99 + 0.01 * (100 - 99) = 99.01.
    """
    return var_function(returns, "historical", level)(weights)


def parametric_var(weights: np.ndarray, returns: np.ndarray, level: float = 0.99) -> float:
    """Parametric (normal) VaR: z_level * sqrt(w' Σ w) - w' μ.

    μ is the column mean of `returns` and Σ their sample covariance (ddof = 1); z_level is the
    standard normal quantile (2.3263 at 0.99). Assumes normal daily returns, so it understates fat
    tails; use `historical_var` when that matters.
    """
    return var_function(returns, "parametric", level)(weights)

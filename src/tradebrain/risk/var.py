"""One-day Value at Risk of a portfolio of weights, historical and parametric (normal).

Weights are position values as fractions of NAV (signed, shorts negative); returns are simple
daily returns per asset, one row per day. VaR is reported as a loss, a positive number for a
book that can lose money, as a fraction of NAV. Written by hand because it is a few lines of
numpy and the risk layer must not depend on a heavy risk library. `book_var` is compiled so the
risk gate's rules (risk/rules.py) can call it from the compiled backtest loop too.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import NormalDist
from typing import Literal

import numpy as np
from numba import njit

from tradebrain.core.errors import InputError

HISTORICAL, PARAMETRIC = 0, 1


@njit(cache=True)
def linear_quantile(ordered: np.ndarray, level: float) -> float:
    """numpy's default ("linear", Hyndman-Fan type 7) quantile of sorted values, bit for bit:
    position level * (n - 1), interpolated as numpy's `_lerp` does."""
    position = level * (ordered.shape[0] - 1)
    lo = int(np.floor(position))
    hi = min(lo + 1, ordered.shape[0] - 1)
    gamma = position - lo
    a, b = ordered[lo], ordered[hi]
    if gamma >= 0.5:
        return float(b - (b - a) * (1.0 - gamma))
    return float(a + (b - a) * gamma)


@njit(cache=True)
def upper_quantile(values: np.ndarray, level: float) -> float:
    """`linear_quantile(np.sort(values), level)` without sorting everything: a VaR quantile sits
    among the few largest values, so only those are kept (sorted) in one pass."""
    n = values.shape[0]
    lo = int(np.floor(level * (n - 1)))
    keep = n - lo
    if keep > 32:
        return linear_quantile(np.sort(values), level)
    top = np.full(keep, -np.inf)  # ascending: top[0] is the smallest kept value
    for value in values:
        if value > top[0]:
            i = 0
            while i + 1 < keep and top[i + 1] < value:
                top[i] = top[i + 1]
                i += 1
            top[i] = value
    ordered = np.empty(n)
    ordered[lo:] = top
    ordered[:lo] = top[0]  # never read: linear_quantile only reads positions lo and lo + 1
    return linear_quantile(ordered, level)


@njit(cache=True)
def book_var(returns: np.ndarray, weights: np.ndarray, method: int, level: float, z: float) -> float:
    """VaR (fraction of NAV) of `weights` over `returns` (days, assets): HISTORICAL, the `level`
    quantile of the daily losses -(returns @ weights); PARAMETRIC, z * sqrt(w' S w) - w' mu with the
    column means mu and the sample covariance S (ddof = 1)."""
    days, assets = returns.shape
    if method == HISTORICAL:
        losses = np.empty(days)
        for d in range(days):
            total = 0.0
            for a in range(assets):
                total += returns[d, a] * weights[a]
            losses[d] = -total
        return upper_quantile(losses, level)
    mu = np.zeros(assets)
    for d in range(days):
        for a in range(assets):
            mu[a] += returns[d, a]
    mu /= days
    variance = 0.0
    for a in range(assets):
        for b in range(assets):
            covariance = 0.0
            for d in range(days):
                covariance += (returns[d, a] - mu[a]) * (returns[d, b] - mu[b])
            variance += weights[a] * weights[b] * covariance / (days - 1)
    mean = 0.0
    for a in range(assets):
        mean += weights[a] * mu[a]
    return float(z * np.sqrt(max(variance, 0.0)) - mean)


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
    """VaR as a function of the weights, with `returns` validated once: the risk gate evaluates
    many weights per order."""
    r = np.ascontiguousarray(_check_returns(returns, level))
    code = HISTORICAL if method == "historical" else PARAMETRIC
    z = NormalDist().inv_cdf(level)

    def var_of_weights(weights: np.ndarray) -> float:
        return float(book_var(r, _check_weights(weights, r.shape[1]), code, level, z))

    return var_of_weights


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

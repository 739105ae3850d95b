"""Almgren-Chriss (2000) closed forms: cost moments of any schedule and the optimal schedule.

Holdings x_0 = X, ..., x_N = 0 at times t_k = k*tau; trades n_k = x_{k-1} - x_k. For a static schedule
    E = gamma*X^2/2 + epsilon*sum|n_k| + (eta_tilde/tau)*sum n_k^2 - alpha*tau*sum x_k
    V = sigma^2 * tau * sum x_k^2
The optimum of E + lambda*V (alpha = 0) is x_j = X*sinh(kappa*(T - t_j))/sinh(kappa*T), with kappa
solving (2/tau^2)*(cosh(kappa*tau) - 1) = lambda*sigma^2/eta_tilde exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tradebrain.core.errors import InputError
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig, check_liquidation, eta_tilde


def kappa_tilde_squared(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> float:
    """lambda*sigma^2/eta_tilde, the right-hand side of the discrete kappa equation."""
    check_liquidation(market, task)
    return risk_aversion * market.sigma**2 / eta_tilde(market, task)


def kappa_exact(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> float:
    """The urgency kappa solving (2/tau^2)*(cosh(kappa*tau) - 1) = lambda*sigma^2/eta_tilde."""
    tau = task.tau
    # cosh(x) - 1 = 2*sinh(x/2)^2: asinh keeps full precision where acosh(1 + tiny) loses it (fine grids).
    return 2.0 * math.asinh(tau * math.sqrt(kappa_tilde_squared(market, task, risk_aversion)) / 2.0) / tau


def kappa_approx(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> float:
    """The continuous-time limit sqrt(lambda*sigma^2/eta), wrong on coarse grids (kept for comparison)."""
    return math.sqrt(risk_aversion * market.sigma**2 / market.eta)


def optimal_holdings(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> np.ndarray:
    """x_0..x_N of the AC-optimal schedule (TWAP when kappa = 0)."""
    kappa = kappa_exact(market, task, risk_aversion)
    times = np.arange(task.steps + 1) * task.tau
    remaining = task.horizon - times
    if kappa * task.horizon < 1e-12:
        holdings: np.ndarray = task.shares * remaining / task.horizon
        return holdings
    # sinh ratio via exponentials scaled by exp(-kappa*T), stable for large kappa*T.
    scaled = np.exp(-kappa * times) - np.exp(-kappa * (2 * task.horizon - times))
    holdings = task.shares * scaled / (1.0 - math.exp(-2 * kappa * task.horizon))
    return holdings


def twap_holdings(task: LiquidationTask) -> np.ndarray:
    """x_0..x_N of the uniform (TWAP) schedule."""
    return task.shares * (1.0 - np.arange(task.steps + 1) / task.steps)


def immediate_holdings(task: LiquidationTask) -> np.ndarray:
    """x_0..x_N of trading everything in the first interval."""
    holdings = np.zeros(task.steps + 1)
    holdings[0] = task.shares
    return holdings


def profile_holdings(task: LiquidationTask, volume_profile: np.ndarray) -> np.ndarray:
    """x_0..x_N trading in proportion to an expected volume per interval (VWAP)."""
    profile = np.asarray(volume_profile, dtype=float)
    if profile.shape != (task.steps,):
        raise InputError(f"volume_profile needs one value per interval ({task.steps}), got shape {profile.shape}")
    if not np.all(np.isfinite(profile)) or np.any(profile < 0) or profile.sum() <= 0:
        raise InputError("volume_profile must be finite, non-negative and not all zero")
    done = np.concatenate([[0.0], np.cumsum(profile)]) / profile.sum()
    holdings: np.ndarray = task.shares * (1.0 - done)
    holdings[-1] = 0.0
    return holdings


@dataclass(frozen=True)
class ScheduleMoments:
    """Expected shortfall E and its variance V for a static schedule, $ and $^2."""

    expected: float
    variance: float

    def objective(self, risk_aversion: float) -> float:
        """E + lambda*V."""
        return self.expected + risk_aversion * self.variance


def schedule_moments(market: MarketConfig, task: LiquidationTask, holdings: np.ndarray) -> ScheduleMoments:
    """E and V of the implementation shortfall of a static schedule, for ABM prices (the AC model)."""
    check_liquidation(market, task)
    holdings = np.asarray(holdings, dtype=float)
    if holdings.shape != (task.steps + 1,):
        raise InputError(f"holdings need x_0..x_N ({task.steps + 1} values), got shape {holdings.shape}")
    if not math.isclose(holdings[0], task.shares, rel_tol=1e-9) or abs(holdings[-1]) > 1e-9 * task.shares:
        raise InputError("holdings must start at X (task.shares) and end at 0")
    trades = -np.diff(holdings)
    carried = holdings[1:]
    tau = task.tau
    expected = (
        market.gamma * task.shares**2 / 2
        + market.epsilon * float(np.abs(trades).sum())
        + eta_tilde(market, task) / tau * float((trades**2).sum())
        - task.sign * market.drift * tau * float(carried.sum())
    )
    variance = market.sigma**2 * tau * float((carried**2).sum())
    return ScheduleMoments(expected, variance)

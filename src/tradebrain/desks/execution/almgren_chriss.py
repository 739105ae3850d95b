"""Almgren-Chriss (2000) closed forms: cost moments of any schedule and the optimal schedule.

Holdings x_0 = X, ..., x_N = 0 at times t_k = k*tau; trades n_k = x_{k-1} - x_k. For a static schedule
    E = gamma*X^2/2 + epsilon*sum|n_k| + (eta_tilde/tau)*sum n_k^2 - alpha*tau*sum x_k
    V = sigma^2 * tau * sum x_k^2
The optimum of E + lambda*V (alpha = 0) is x_j = X*sinh(kappa*(T - t_j))/sinh(kappa*T), with kappa
solving (2/tau^2)*(cosh(kappa*tau) - 1) = lambda*sigma^2/eta_tilde exactly.

Extreme inputs: kappa is computed in log space when lambda*sigma^2/eta_tilde overflows a float, so the
optimal schedule (sell at once) stays exact. A dollar figure that cannot be represented (E, V or
E + lambda*V beyond ~1e307) is an InputError naming the config field (or --lambda) and the range that
works, never an infinity or NaN handed to a report.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from tradebrain.core.errors import InputError
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig, check_liquidation, eta_tilde

LIMIT = sys.float_info.max / 8
"""Largest magnitude of one term of E, V or lambda*V: the four terms of E plus lambda*V stay finite."""
LAMBDA = "risk aversion lambda (--lambda, task.risk_aversion)"


def _square(value: float) -> float:
    """value**2, or inf where Python's float power would raise OverflowError."""
    try:
        return value**2
    except OverflowError:
        return math.inf


def kappa_tilde_squared(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> float:
    """lambda*sigma^2/eta_tilde, the right-hand side of the discrete kappa equation (inf on overflow)."""
    check_liquidation(market, task)
    return risk_aversion * _square(market.sigma) / eta_tilde(market, task)


def _log_ratio(risk_aversion: float, sigma: float, eta: float) -> float:
    """log(lambda*sigma^2/eta) without forming the product (which may overflow)."""
    return math.log(risk_aversion) + 2.0 * math.log(sigma) - math.log(eta)


def _finite_kappa(kappa: float, name: str) -> float:
    if not math.isfinite(kappa):
        raise InputError(
            f"{name} overflows a float: {LAMBDA}, market.sigma or 1/market.eta is too large, or task.horizon/"
            "task.steps too small; lower lambda or sigma, or raise eta or the interval length"
        )
    return kappa


def kappa_exact(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> float:
    """The urgency kappa solving (2/tau^2)*(cosh(kappa*tau) - 1) = lambda*sigma^2/eta_tilde.

    Where lambda*sigma^2/eta_tilde overflows a float, asinh(y) = log(2y) (exact in double precision
    for y > 1e8) with log y in log space: the urgency of an extreme risk aversion is still a number."""
    tau = task.tau
    # cosh(x) - 1 = 2*sinh(x/2)^2: asinh keeps full precision where acosh(1 + tiny) loses it (fine grids).
    half = tau * math.sqrt(kappa_tilde_squared(market, task, risk_aversion)) / 2.0
    if math.isfinite(half):
        return _finite_kappa(2.0 * math.asinh(half) / tau, "kappa")
    log_half = math.log(tau / 2.0) + 0.5 * _log_ratio(risk_aversion, market.sigma, eta_tilde(market, task))
    return _finite_kappa(2.0 * (math.log(2.0) + log_half) / tau, "kappa")


def kappa_approx(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> float:
    """The continuous-time limit sqrt(lambda*sigma^2/eta), wrong on coarse grids (kept for comparison);
    through logarithms where lambda*sigma^2 overflows a float."""
    value = math.sqrt(risk_aversion * _square(market.sigma) / market.eta)
    if math.isfinite(value):
        return value
    return _finite_kappa(math.exp(0.5 * _log_ratio(risk_aversion, market.sigma, market.eta)), "the continuous kappa")


def optimal_holdings(market: MarketConfig, task: LiquidationTask, risk_aversion: float) -> np.ndarray:
    """x_0..x_N of the AC-optimal schedule (TWAP when kappa = 0)."""
    kappa = kappa_exact(market, task, risk_aversion)
    times = np.arange(task.steps + 1) * task.tau
    remaining = task.horizon - times
    if kappa * task.horizon < 1e-12:
        holdings: np.ndarray = task.shares * remaining / task.horizon
        return holdings
    # sinh ratio via exponentials scaled by exp(-kappa*T), stable for large kappa*T (exp(-inf) = 0).
    with np.errstate(over="ignore"):
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
        """E + lambda*V; an InputError naming lambda's working range where lambda*V overflows a float."""
        weighted = risk_aversion * self.variance
        if not abs(weighted) <= LIMIT:
            bound = _floor3(LIMIT / self.variance)
            raise InputError(
                f"{LAMBDA} = {risk_aversion:g} makes lambda*V = {weighted:g} $ overflow a float (V = "
                f"{self.variance:.4g} $^2); use lambda <= {bound:.3g} for this market and task"
            )
        return self.expected + weighted


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
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by field
        terms = {
            "permanent": _weighted(market.gamma, _square(task.shares)) / 2,
            "fixed": _weighted(market.epsilon, float(np.abs(trades).sum())),
            "temporary": _weighted(eta_tilde(market, task) / tau, float((trades**2).sum())),
            "drift": _weighted(task.sign * market.drift * tau, float(carried.sum())),
            "variance": _weighted(_square(market.sigma) * tau, float((carried**2).sum())),
        }
    for term, value in terms.items():
        if not abs(value) <= LIMIT:
            raise InputError(_overflow(term, value, market, task, trades, carried))
    expected = terms["permanent"] + terms["fixed"] + terms["temporary"] - terms["drift"]
    return ScheduleMoments(expected, terms["variance"])


def _weighted(coefficient: float, weight: float) -> float:
    """coefficient*weight, and 0 when either is 0 (even if the other overflowed to inf: inf*0 is NaN)."""
    return 0.0 if coefficient == 0 or weight == 0 else coefficient * weight


def _floor3(value: float) -> float:
    """`value` > 0 rounded down to three significant digits, so a bound printed with .3g still holds."""
    scale = 10.0 ** (math.floor(math.log10(value)) - 2)
    return math.floor(value / scale) * scale


def _overflow(
    term: str, value: float, market: MarketConfig, task: LiquidationTask, trades: np.ndarray, carried: np.ndarray
) -> str:
    """Which config field makes a term of E or V overflow a float, and the range of it that works for
    every schedule of this task that only sells (or only buys), not just this one."""
    tau, shares, held = task.tau, task.shares, task.steps - 1  # x_N = 0: at most N-1 intervals carry X
    with np.errstate(over="ignore"):
        specs = {  # term: (what it is, the field, the field's value, the largest term / field**power, power)
            "permanent": ("permanent impact gamma*X^2/2", "market.gamma", market.gamma, _square(shares) / 2, 1),
            "fixed": ("fixed cost epsilon*sum|n_k|", "market.epsilon", market.epsilon,
                      max(shares, float(np.abs(trades).sum())), 1),
            "temporary": ("temporary impact (eta_tilde/tau)*sum n_k^2", "market.eta", market.eta,
                          max(_square(shares), float((trades**2).sum())) / tau, 1),
            "drift": ("drift term alpha*tau*sum x_k", "|market.drift|", abs(market.drift),
                      tau * max(held * shares, float(np.abs(carried).sum())), 1),
            "variance": ("variance sigma^2*tau*sum x_k^2", "market.sigma", market.sigma,
                         tau * max(held * _square(shares), float((carried**2).sum())), 2),
        }  # fmt: skip
    what, field, current, weight, power = specs[term]
    if not (math.isfinite(weight) and weight > 0):
        return (
            f"task.shares = {shares:g} over {task.steps} steps of {tau:g} days makes the {what} overflow a float; "
            "trade fewer shares"
        )
    bound = _floor3((LIMIT / weight) ** (1.0 / power))
    return (
        f"{field} = {current:g} makes the {what} = {value:g} overflow a float in the closed forms; use {field} <= "
        f"{bound:.3g} for this task ({shares:g} shares, {task.steps} steps of {tau:g} days)"
    )

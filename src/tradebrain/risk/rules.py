"""The risk gate's rules as compiled functions on plain arrays: the ONE implementation that the
RiskGate object (envs, live) and the compiled backtest loop both call, so a backtest enforces
exactly what paper trading enforces.

Layouts (float64 vectors, built by `limits_vector` and `new_state`):

- limits: [max_position_pct, max_gross_leverage, max_daily_loss_pct, max_drawdown_pct,
  var_limit_pct, var_level, var_window, var_method (0 historical, 1 parametric), z(var_level)];
  a limit that is off is NaN.
- state: [peak equity marked so far, use the account's peak (1/0), day of the daily-loss halt
  (days since 1970-01-01 UTC, NaN when none), drawdown halt (1/0)].

Rule codes index RULE_NAMES (0 = no rule fired). The rules themselves, and the order they apply
in, are documented in `tradebrain.risk.gate`.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from numba import njit

from tradebrain.core.numba_cache import refresh_cache
from tradebrain.risk import var
from tradebrain.risk.limits import RiskLimits
from tradebrain.risk.var import book_var

refresh_cache(__file__, [var.__file__])

NO_RULE, POSITION, LEVERAGE, DAILY_LOSS, DRAWDOWN, VAR, EQUITY = range(7)
RULE_NAMES = (
    "",
    "max_position_pct",
    "max_gross_leverage",
    "max_daily_loss_pct",
    "max_drawdown_pct",
    "var_limit_pct",
    "nonpositive_equity",
)
L_POSITION, L_LEVERAGE, L_DAILY, L_DRAWDOWN, L_VAR, L_LEVEL, L_WINDOW, L_METHOD, L_Z = range(9)
S_PEAK, S_USE_ACCOUNT_PEAK, S_HALT_DAY, S_DRAWDOWN_HALT = range(4)
SCALE_TOLERANCE = 1e-12  # of the order's size: as precise as 40 bisection steps
MAX_SEARCH_STEPS = 80
NANOS_PER_DAY = 86_400_000_000_000


def limits_vector(limits: RiskLimits) -> np.ndarray:
    """`limits` in the array layout the compiled rules read (NaN = limit off)."""

    def value(limit: float | None) -> float:
        return math.nan if limit is None else float(limit)

    return np.array(
        [
            value(limits.max_position_pct),
            value(limits.max_gross_leverage),
            value(limits.max_daily_loss_pct),
            value(limits.max_drawdown_pct),
            value(limits.var_limit_pct),
            limits.var_level,
            float(limits.var_window),
            0.0 if limits.var_method == "historical" else 1.0,
            NormalDist().inv_cdf(limits.var_level),
        ]
    )


def new_state(use_account_peak: bool = True) -> np.ndarray:
    """A gate state with no halt and no equity marked yet."""
    return np.array([-math.inf, 1.0 if use_account_peak else 0.0, math.nan, 0.0])


@njit(cache=True)
def is_risk_reducing(position: float, quantity: float) -> bool:
    """True when the order moves the position towards zero without crossing it."""
    new = position + quantity
    return abs(new) <= abs(position) and (new == 0.0 or (new > 0.0) == (position > 0.0))


@njit(cache=True)
def halted_rule(state: np.ndarray, day: int) -> int:
    """The rule that forbids new risk on `day` (drawdown first), or NO_RULE."""
    if state[S_DRAWDOWN_HALT] != 0.0:
        return DRAWDOWN
    halt_day = state[S_HALT_DAY]
    if not math.isnan(halt_day) and day <= halt_day:
        return DAILY_LOSS
    return NO_RULE


@njit(cache=True)
def mark_loss_limits(
    state: np.ndarray, limits: np.ndarray, equity: float, account_peak: float, day_start: float, day: int
) -> tuple[int, int]:
    """Update the halts at a mark; return (the rule that halts new risk now, the rule that newly
    fired at this mark), each NO_RULE when none."""
    state[S_PEAK] = max(state[S_PEAK], equity)
    peak = max(state[S_PEAK], account_peak) if state[S_USE_ACCOUNT_PEAK] != 0.0 else state[S_PEAK]
    fired = NO_RULE
    drawdown = limits[L_DRAWDOWN]
    if not math.isnan(drawdown) and peak > 0.0 and equity <= peak * (1.0 - drawdown):
        if state[S_DRAWDOWN_HALT] == 0.0:
            fired = DRAWDOWN
        state[S_DRAWDOWN_HALT] = 1.0
    daily = limits[L_DAILY]
    if not math.isnan(daily) and day_start > 0.0 and equity <= day_start * (1.0 - daily):
        halt_day = state[S_HALT_DAY]
        if (math.isnan(halt_day) or day > halt_day) and fired == NO_RULE:
            fired = DAILY_LOSS
        state[S_HALT_DAY] = day
    return halted_rule(state, day), fired


@njit(cache=True)
def _var_at(returns: np.ndarray, weights: np.ndarray, index: int, value: float, limits: np.ndarray) -> float:
    weights[index] = value
    return book_var(returns, weights, int(limits[L_METHOD]), limits[L_LEVEL], limits[L_Z])


@njit(cache=True)
def search_scale(
    returns: np.ndarray, w: np.ndarray, index: int, p: float, q: float, price: float, nav: float,
    limits: np.ndarray, limit: float, lo_s: float, v_lo: float, hi_s: float, v_hi: float,
) -> float:  # fmt: skip
    """The largest evaluated scale s in [lo_s, hi_s) with VaR(p + s q) <= limit, given VaR(lo_s) <=
    limit < VaR(hi_s): a bracketing search alternating secant steps (exact in one step where VaR is
    linear in the size, as for a single position) with bisection (guaranteed convergence), until
    the bracket is narrower than SCALE_TOLERANCE. Only evaluated points enter the bracket, so the
    answer always keeps the limit."""
    for step in range(MAX_SEARCH_STEPS):
        width = hi_s - lo_s
        if width <= SCALE_TOLERANCE:
            break
        guess = 0.5 * (lo_s + hi_s)
        if step % 2 == 0 and v_hi > v_lo:
            secant = lo_s + (limit - v_lo) * width / (v_hi - v_lo)
            # just inside the root, so a linear VaR puts it in the bracket's feasible end at once
            guess = min(
                max(secant - 0.5 * SCALE_TOLERANCE, lo_s + 0.25 * SCALE_TOLERANCE), hi_s - 0.25 * SCALE_TOLERANCE
            )
        value = _var_at(returns, w, index, (p + guess * q) * price / nav, limits)
        if value <= limit:
            lo_s, v_lo = guess, value
        else:
            hi_s, v_hi = guess, value
        if step % 2 == 0 and value <= limit:
            # probe just above: if it breaks the limit the root is pinned to within the tolerance
            probe = min(guess + SCALE_TOLERANCE, hi_s)
            if probe < hi_s:
                v_probe = _var_at(returns, w, index, (p + probe * q) * price / nav, limits)
                if v_probe > limit:
                    hi_s, v_hi = probe, v_probe
                else:
                    lo_s, v_lo = probe, v_probe
    return lo_s


@njit(cache=True)
def review_quantity(
    state: np.ndarray,
    limits: np.ndarray,
    position: float,
    quantity: float,
    price: float,
    nav: float,
    gross: float,
    day: int,
    returns: np.ndarray,
    weights: np.ndarray,
    index: int,
) -> tuple[float, int]:
    """(approved quantity, rule that changed it) for an order of `quantity` shares on a position of
    `position` shares at `price`.

    `gross` is the book's gross exposure at the marks; `returns` (days, assets) with the book's
    `weights` (position value / NAV per asset, this instrument at `index`) enable the VaR rule
    (pass zero rows to skip it).
    """
    if quantity == 0.0 or is_risk_reducing(position, quantity):
        return quantity, NO_RULE
    p, q = position, quantity
    reduce_q = -p if p != 0.0 and p + q != 0.0 and ((p + q > 0.0) != (p > 0.0)) else 0.0
    halted = halted_rule(state, day)
    if halted != NO_RULE:
        return reduce_q, halted
    if nav <= 0.0:
        return reduce_q, EQUITY
    approved, rule = q, NO_RULE
    bound, bound_rule = math.inf, NO_RULE
    if not math.isnan(limits[L_POSITION]):
        bound, bound_rule = limits[L_POSITION] * nav / price, POSITION
    if not math.isnan(limits[L_LEVERAGE]):
        other = gross - abs(p) * price
        leverage_bound = (limits[L_LEVERAGE] * nav - other) / price
        if leverage_bound < bound:
            bound, bound_rule = leverage_bound, LEVERAGE
    target = p + q
    if abs(target) > bound:
        hi = max(bound, p, 0.0)
        lo = min(-bound, p, 0.0)
        approved, rule = min(max(target, lo), hi) - p, bound_rule
    limit = limits[L_VAR]
    if not math.isnan(limit) and returns.shape[0] >= 2 and approved != 0.0:
        w = weights.copy()
        v_hi = _var_at(returns, w, index, (p + approved) * price / nav, limits)
        if v_hi > limit:
            s_reduce = reduce_q / q
            lo_s, hi_s = s_reduce, approved / q
            v_lo = _var_at(returns, w, index, (p + lo_s * q) * price / nav, limits)
            lo_s = search_scale(returns, w, index, p, q, price, nav, limits, limit, lo_s, v_lo, hi_s, v_hi)
            approved, rule = (reduce_q if lo_s == s_reduce else lo_s * q), VAR
    return approved, rule

"""Performance metrics of a backtest: returns, risk, trade statistics, benchmark fit, deflated Sharpe.

Conventions shared by every function here (each docstring repeats what applies to it):

* The equity curve is a ``pd.Series`` of net asset value (NAV) indexed by strictly increasing timestamps
  (UTC). Period returns are simple returns ``r_t = E_t / E_{t-1} - 1``; an equity curve of n points has
  n - 1 returns.
* ``periods_per_year`` (ppy) scales per-period statistics to a year. When not given it is inferred from
  the index by :func:`infer_periods_per_year` (daily bars -> 252, regular-session US minute bars ->
  252 * 390, otherwise from the median spacing).
* The risk-free rate ``risk_free`` is an annual, compounded rate (0.02 = 2% a year); per period it is
  ``rf_p = (1 + risk_free) ** (1 / ppy) - 1``. Excess returns are ``r_t - rf_p``.
* Standard deviations are sample standard deviations (ddof=1) unless a docstring says otherwise.
* A statistic that is undefined (no returns, zero variance, no trades) is NaN, never inf, with one
  documented exception: the profit factor (and the Sortino ratio) of a record with gains and no losses
  is +inf.
* Drawdowns are reported as positive fractions (0.1 = the NAV fell 10% below its running peak).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from tradebrain.core.errors import InputError

TRADING_DAYS_PER_YEAR = 252
"""Trading days in a US equity year."""

US_SESSION_MINUTES = 390
"""Minutes in a regular US equity session (09:30-16:00 ET)."""

DAYS_PER_YEAR = 365.25
"""Calendar days in a (Julian) year, used to turn elapsed time into years."""

EULER_MASCHERONI = 0.5772156649015329
"""The Euler-Mascheroni constant gamma_e of the expected-maximum-Sharpe formula."""

TRADE_COLUMNS = ("entry_time", "exit_time", "symbol", "quantity", "entry_price", "exit_price", "pnl", "fees")
"""Columns of a trade list."""

_RELATIVE_ZERO = 1e-12
"""A dispersion below this fraction of the mean is floating-point noise around a constant series."""

METRIC_DEFINITIONS: dict[str, str] = {
    "total_return": "Final NAV / initial NAV - 1.",
    "cagr": "Compound annual growth rate: (final / initial) ** (1 / years) - 1; years = elapsed days / 365.25 "
    "(or (n - 1) / periods_per_year when periods_per_year is given).",
    "annual_volatility": "Sample std (ddof=1) of period returns * sqrt(periods_per_year).",
    "sharpe": "Mean excess period return / its std (ddof=1) * sqrt(periods_per_year); risk-free rate annual, "
    "compounded to a per-period rate.",
    "sortino": "Mean excess period return / downside deviation sqrt(mean(min(excess, 0)^2)) * sqrt(periods_per_year).",
    "calmar": "CAGR / maximum drawdown.",
    "max_drawdown": "Largest fall of NAV below its running peak, as a positive fraction of the peak.",
    "max_drawdown_duration_days": "Longest span from a peak to the first bar back at or above it (or the last bar "
    "if never recovered), in days.",
    "max_drawdown_duration_periods": "The same longest drawdown span, in bars.",
    "win_rate": "Fraction of closed trades with pnl > 0.",
    "profit_factor": "Gross profit of winning trades / gross loss of losing trades (inf when no losing trade).",
    "average_win": "Mean pnl of winning trades (pnl > 0).",
    "average_loss": "Mean pnl of losing trades (pnl < 0); negative.",
    "win_loss_ratio": "Average win / |average loss|.",
    "exposure": "Fraction of bars with a non-zero position.",
    "turnover": "Traded value (|quantity| * price at entry and at exit) / mean NAV, per year.",
    "number_of_trades": "Number of trades in the trade list.",
    "fees_paid": "Sum of the fees of every trade.",
    "alpha": "Intercept of the OLS of excess period returns on benchmark excess returns, * periods_per_year.",
    "beta": "Slope of the OLS of period returns on benchmark period returns: cov / var (ddof=1).",
    "deflated_sharpe": "Probability that the true per-period Sharpe exceeds the expected maximum Sharpe of "
    "`trials` unskilled configurations (Bailey & Lopez de Prado 2014).",
    "periods_per_year": "Bars per year used to annualise (given, or inferred from the timestamps).",
}
"""One-line definition of every key :func:`summarize` returns, for reports."""


# --------------------------------------------------------------------------------------------------- inputs


def _check_equity(equity: pd.Series) -> pd.Series:
    if not isinstance(equity, pd.Series):
        raise InputError(f"equity must be a pandas Series of NAV, got {type(equity).__name__}")
    if not isinstance(equity.index, pd.DatetimeIndex):
        raise InputError("equity must be indexed by timestamps (a DatetimeIndex); set the bar times as index")
    if len(equity) == 0:
        raise InputError("equity is empty: pass at least one NAV value")
    if not equity.index.is_monotonic_increasing or equity.index.has_duplicates:
        raise InputError("equity index must be strictly increasing; sort it and drop duplicated timestamps")
    values = equity.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise InputError("equity contains NaN or inf; fill or drop those bars first")
    return equity.astype(float)


def _check_trades(trades: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(trades, pd.DataFrame):
        raise InputError(f"trades must be a pandas DataFrame, got {type(trades).__name__}")
    missing = [column for column in TRADE_COLUMNS if column not in trades.columns]
    if missing:
        raise InputError(f"trades is missing columns {missing}; expected {list(TRADE_COLUMNS)}")
    return trades


# ----------------------------------------------------------------------------------------- periods per year


def infer_periods_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year implied by the spacing of the timestamps.

    Rules, on the median spacing ``d`` between consecutive timestamps:

    * ``12 h < d <= 4 days``: daily bars (weekends and holidays make gaps) -> 252.
    * ``d <= 12 h`` and some gap longer than 12 h (overnight breaks, so a session market):
      bars of a regular US session -> ``252 * 390 minutes / d`` (one-minute bars -> 98,280).
    * ``d <= 12 h`` and no gap longer than 12 h (a market that trades around the clock):
      ``365.25 days / d``.
    * ``d > 4 days`` (weekly, monthly bars): ``365.25 days / d``.

    Why: annualisation must follow the bars actually traded, not calendar time, for session markets;
    pass ``periods_per_year`` explicitly whenever these rules do not fit the data.
    Raises InputError with fewer than two timestamps (no spacing to measure).
    """
    if len(index) < 2:
        raise InputError("need at least two timestamps to infer periods_per_year; pass periods_per_year")
    gaps = np.diff(index.as_unit("ns").asi8).astype(float)  # nanoseconds, whatever the index unit
    median = float(np.median(gaps))
    if median <= 0:
        raise InputError("timestamps must be strictly increasing to infer periods_per_year")
    day = float(pd.Timedelta(days=1).value)
    half_day = day / 2
    if half_day < median <= 4 * day:
        return float(TRADING_DAYS_PER_YEAR)
    if median <= half_day and float(np.max(gaps)) > half_day:
        return TRADING_DAYS_PER_YEAR * US_SESSION_MINUTES * float(pd.Timedelta(minutes=1).value) / median
    return DAYS_PER_YEAR * day / median


def _resolve_ppy(index: pd.DatetimeIndex, periods_per_year: float | None) -> float:
    """Given ppy (validated) or the inferred one; NaN when it cannot be inferred (fewer than 2 bars)."""
    if periods_per_year is not None:
        if not (math.isfinite(periods_per_year) and periods_per_year > 0):
            raise InputError(f"periods_per_year must be a positive number, got {periods_per_year}")
        return float(periods_per_year)
    if len(index) < 2:
        return math.nan
    return infer_periods_per_year(index)


def per_period_risk_free(risk_free: float, periods_per_year: float) -> float:
    """Per-period rate compounding to the annual rate ``risk_free``: ``(1 + risk_free) ** (1 / ppy) - 1``.

    0 when ``risk_free`` is 0 (whatever ppy is, even NaN)."""
    if risk_free == 0:
        return 0.0
    return float((1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0)


# --------------------------------------------------------------------------------------------------- returns


def returns(equity: pd.Series) -> pd.Series:
    """Simple period returns ``r_t = E_t / E_{t-1} - 1`` of an equity curve, indexed by the later bar.

    n NAV points give n - 1 returns (the first bar has no return)."""
    equity = _check_equity(equity)
    return equity.pct_change().iloc[1:]


def total_return(equity: pd.Series) -> float:
    """``E_last / E_first - 1``. 0 for a one-point curve. Independent of ppy and the risk-free rate."""
    equity = _check_equity(equity)
    return float(equity.iloc[-1] / equity.iloc[0] - 1.0)


def _years(index: pd.DatetimeIndex, periods_per_year: float | None) -> float:
    if periods_per_year is not None:
        return (len(index) - 1) / _resolve_ppy(index, periods_per_year)
    return float((index[-1] - index[0]) / pd.Timedelta(days=DAYS_PER_YEAR))


def cagr(equity: pd.Series, periods_per_year: float | None = None) -> float:
    """Compound annual growth rate ``(E_last / E_first) ** (1 / years) - 1``.

    ``years`` is the elapsed time from the first to the last timestamp in years of 365.25 days, or
    ``(n - 1) / periods_per_year`` when ``periods_per_year`` is given (n NAV points, n - 1 periods).
    -1 when the NAV ends at or below zero (everything lost); NaN when no time elapses.
    No risk-free rate, no standard deviation."""
    equity = _check_equity(equity)
    years = _years(equity.index, periods_per_year)
    if not years > 0:
        return math.nan
    growth = float(equity.iloc[-1] / equity.iloc[0])
    if growth <= 0:
        return -1.0
    return float(growth ** (1.0 / years) - 1.0)


def annual_volatility(period_returns: pd.Series, periods_per_year: float) -> float:
    """``std(r, ddof=1) * sqrt(periods_per_year)`` of period returns; NaN with fewer than 2 returns."""
    values = np.asarray(period_returns, dtype=float)
    if values.size < 2:
        return math.nan
    return float(np.std(values, ddof=1) * math.sqrt(periods_per_year))


def _is_flat(mean: float, dispersion: float) -> bool:
    """True when the dispersion is zero or floating-point noise around the mean."""
    return dispersion == 0 or dispersion <= _RELATIVE_ZERO * abs(mean)


def sharpe_ratio(period_returns: pd.Series, periods_per_year: float, risk_free: float = 0.0) -> float:
    """Annualised Sharpe ratio ``mean(x) / std(x, ddof=1) * sqrt(ppy)`` of excess returns ``x = r - rf_p``.

    ``rf_p = (1 + risk_free) ** (1 / ppy) - 1`` converts the annual risk-free rate to a per-period one.
    NaN (not inf) with fewer than 2 returns or when the excess returns are constant (std 0, e.g. a
    flat equity curve)."""
    moments = _excess_moments(period_returns, risk_free, periods_per_year)
    if moments is None:
        return math.nan
    _, mean, std = moments
    return mean / std * math.sqrt(periods_per_year)


def sortino_ratio(period_returns: pd.Series, periods_per_year: float, risk_free: float = 0.0) -> float:
    """Annualised Sortino ratio ``mean(x) / DD * sqrt(ppy)`` of excess returns ``x = r - rf_p``.

    The downside deviation has target 0 excess return and divides by the number of all returns (no ddof):
    ``DD = sqrt(mean(min(x, 0) ** 2))``. ``rf_p`` as in :func:`sharpe_ratio`.
    NaN with no returns or when DD = 0 and mean(x) <= 0; +inf when DD = 0 and mean(x) > 0 (gains, never
    a loss)."""
    values = np.asarray(period_returns, dtype=float)
    if values.size == 0:
        return math.nan
    excess = values - per_period_risk_free(risk_free, periods_per_year)
    mean = float(np.mean(excess))
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    if _is_flat(mean, downside):
        return math.inf if mean > 0 else math.nan
    return mean / downside * math.sqrt(periods_per_year)


# ------------------------------------------------------------------------------------------------ drawdowns


def drawdown_series(equity: pd.Series) -> pd.Series:
    """``1 - E_t / max_{s <= t} E_s``: the fall below the running peak, as a positive fraction (0 at a peak)."""
    equity = _check_equity(equity)
    return 1.0 - equity / equity.cummax()


def max_drawdown(equity: pd.Series) -> float:
    """Largest ``1 - E_t / max_{s <= t} E_s``: 0.1 when the NAV once fell 10% below an earlier peak."""
    return float(drawdown_series(equity).max())


def max_drawdown_duration(equity: pd.Series) -> tuple[pd.Timedelta, int]:
    """Longest time below a previous peak, as (Timedelta, number of bars).

    A drawdown spell runs from the peak bar to the first later bar whose NAV is back at or above that peak,
    or to the last bar if the NAV never recovers. Equity [100, 110, 99, 120] has one spell, from the bar
    of 110 to the bar of 120: 2 bars. (Timedelta(0), 0) when the NAV never falls below its peak."""
    equity = _check_equity(equity)
    values = equity.to_numpy(dtype=float)
    times = equity.index
    best_periods, best_time = 0, pd.Timedelta(0)
    peak_position = 0
    for position in range(1, values.size):
        if values[position] >= values[peak_position]:
            spell = position - peak_position
            if spell > 1:  # there was at least one bar below the peak
                best_periods, best_time = _longer(best_periods, best_time, spell, times, peak_position, position)
            peak_position = position
    last = values.size - 1
    if last > peak_position:  # still under water at the end
        best_periods, best_time = _longer(best_periods, best_time, last - peak_position, times, peak_position, last)
    return best_time, best_periods


def _longer(
    best_periods: int, best_time: pd.Timedelta, periods: int, times: pd.DatetimeIndex, start: int, end: int
) -> tuple[int, pd.Timedelta]:
    elapsed = times[end] - times[start]
    if elapsed > best_time or (elapsed == best_time and periods > best_periods):
        return periods, elapsed
    return best_periods, best_time


def calmar_ratio(equity: pd.Series, periods_per_year: float | None = None) -> float:
    """``cagr(equity, periods_per_year) / max_drawdown(equity)``; NaN when there is no drawdown."""
    drawdown = max_drawdown(equity)
    if drawdown == 0:
        return math.nan
    return cagr(equity, periods_per_year) / drawdown


# --------------------------------------------------------------------------------------------------- trades


def _pnl(trades: pd.DataFrame) -> np.ndarray:
    return np.asarray(_check_trades(trades)["pnl"], dtype=float)


def number_of_trades(trades: pd.DataFrame) -> int:
    """Number of rows of the trade list."""
    return len(_check_trades(trades))


def fees_paid(trades: pd.DataFrame) -> float:
    """Sum of the ``fees`` column (commissions and fixed fees of every trade); 0 with no trades."""
    return float(np.sum(np.asarray(_check_trades(trades)["fees"], dtype=float)))


def win_rate(trades: pd.DataFrame) -> float:
    """Fraction of trades with ``pnl > 0`` (a break-even trade counts as not won); NaN with no trades.

    Uses the ``pnl`` column as the engine records it (its own convention on fees)."""
    pnl = _pnl(trades)
    return float(np.mean(pnl > 0)) if pnl.size else math.nan


def profit_factor(trades: pd.DataFrame) -> float:
    """``sum(pnl of wins) / |sum(pnl of losses)|``.

    +inf when there are wins and no loss (a deliberate, documented inf: no loss to divide by);
    NaN when there is neither a win nor a loss (no trades, or only break-even trades); 0 with only losses."""
    pnl = _pnl(trades)
    gains, losses = float(pnl[pnl > 0].sum()), float(-pnl[pnl < 0].sum())
    if losses == 0:
        return math.inf if gains > 0 else math.nan
    return gains / losses


def average_win(trades: pd.DataFrame) -> float:
    """Mean pnl of the trades with ``pnl > 0``; NaN when none won."""
    pnl = _pnl(trades)
    wins = pnl[pnl > 0]
    return float(wins.mean()) if wins.size else math.nan


def average_loss(trades: pd.DataFrame) -> float:
    """Mean pnl of the trades with ``pnl < 0`` (a negative number); NaN when none lost."""
    pnl = _pnl(trades)
    losses = pnl[pnl < 0]
    return float(losses.mean()) if losses.size else math.nan


def win_loss_ratio(trades: pd.DataFrame) -> float:
    """``average_win / |average_loss|``; NaN when either is undefined."""
    return average_win(trades) / abs(average_loss(trades))


def exposure(positions: pd.Series | pd.DataFrame) -> float:
    """Fraction of bars with a non-zero position.

    ``positions`` is a quantity per bar (Series) or per bar and symbol (DataFrame: a bar is exposed when
    any symbol's position is non-zero). NaN with no bars."""
    values = np.asarray(positions, dtype=float)
    if values.shape[0] == 0:
        return math.nan
    if values.ndim == 1:
        return float(np.mean(values != 0))
    return float(np.mean(np.any(values != 0, axis=1)))


def turnover(trades: pd.DataFrame, equity: pd.Series, periods_per_year: float | None = None) -> float:
    """Annualised turnover: traded value / mean NAV / years.

    Traded value counts both legs of every trade: ``|quantity| * entry_price + |quantity| * exit_price``
    (a trade still open, exit_price NaN, counts its entry only). Mean NAV is the arithmetic mean of the
    equity curve. ``years`` as in :func:`cagr` (elapsed days / 365.25, or (n - 1) / periods_per_year).
    A full round trip of the whole NAV once a year is a turnover of 2. NaN when no time elapses."""
    trades = _check_trades(trades)
    equity = _check_equity(equity)
    years = _years(equity.index, periods_per_year)
    if not years > 0:
        return math.nan
    quantity = np.abs(np.asarray(trades["quantity"], dtype=float))
    entry = np.nan_to_num(np.asarray(trades["entry_price"], dtype=float))
    exit_ = np.nan_to_num(np.asarray(trades["exit_price"], dtype=float))
    traded = float(np.sum(quantity * (entry + exit_)))
    return traded / float(equity.mean()) / years


# ------------------------------------------------------------------------------------------------ benchmark


def alpha_beta(
    period_returns: pd.Series, benchmark_returns: pd.Series, periods_per_year: float, risk_free: float = 0.0
) -> tuple[float, float]:
    """(annualised alpha, beta) of the OLS ``x_t = a + b * y_t + e_t`` on excess returns.

    ``x = r - rf_p`` (strategy) and ``y = r_bench - rf_p`` (benchmark), aligned on their common timestamps;
    ``rf_p`` as in :func:`sharpe_ratio`. ``b = cov(x, y) / var(y)`` (ddof=1 in both, which cancels),
    ``a = mean(x) - b * mean(y)`` per period, reported as ``a * periods_per_year`` (arithmetic
    annualisation). NaN, NaN with fewer than 2 common returns or a constant benchmark."""
    joined = pd.concat([period_returns, benchmark_returns], axis=1, join="inner").dropna()
    if len(joined) < 2:
        return math.nan, math.nan
    rf = per_period_risk_free(risk_free, periods_per_year)
    x = joined.iloc[:, 0].to_numpy(dtype=float) - rf
    y = joined.iloc[:, 1].to_numpy(dtype=float) - rf
    variance = float(np.var(y, ddof=1))
    if _is_flat(float(np.mean(y)), math.sqrt(variance)):
        return math.nan, math.nan
    beta = float(np.cov(x, y, ddof=1)[0, 1]) / variance
    alpha = float(np.mean(x)) - beta * float(np.mean(y))
    return alpha * periods_per_year, beta


# ------------------------------------------------------------------------------------------ deflated Sharpe


def expected_max_sharpe(trials: int, trial_sharpe_variance: float) -> float:
    """Expected maximum Sharpe ratio of ``trials`` unskilled configurations (true Sharpe 0).

    Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", SR_0 in the DSR definition::

        E[max SR] = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))

    with N = trials, V = the variance of the Sharpe ratios of the tried configurations (same units as the
    Sharpe ratio tested: per period, not annualised), g = Euler-Mascheroni constant, Phi^-1 the standard
    normal quantile. 0 for N = 1 (a single trial needs no deflation; the formula's Phi^-1(0) = -inf)."""
    if trials < 1:
        raise InputError(f"trials must be at least 1, got {trials}")
    if trials == 1:
        return 0.0
    if not (math.isfinite(trial_sharpe_variance) and trial_sharpe_variance >= 0):
        raise InputError(f"trial_sharpe_variance must be a finite number >= 0, got {trial_sharpe_variance}")
    gamma = EULER_MASCHERONI
    quantiles = (1 - gamma) * stats.norm.ppf(1 - 1 / trials) + gamma * stats.norm.ppf(1 - 1 / (trials * math.e))
    return float(math.sqrt(trial_sharpe_variance) * quantiles)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark_sharpe: float, observations: int, skewness: float, kurtosis: float
) -> float:
    """Probability that the true Sharpe exceeds ``benchmark_sharpe`` (Bailey & Lopez de Prado 2012, 2014)::

        PSR = Phi((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2))

    SR and SR* per period (not annualised), T = number of returns, skew the skewness and kurt the
    (Pearson, non-excess: 3 for a normal) kurtosis of the returns. NaN when T < 2, SR is NaN or the
    variance term is not positive."""
    if observations < 2 or not math.isfinite(sharpe):
        return math.nan
    variance = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not variance > 0:
        return math.nan
    z = (sharpe - benchmark_sharpe) * math.sqrt(observations - 1) / math.sqrt(variance)
    return float(stats.norm.cdf(z))


def deflated_sharpe_ratio(
    period_returns: pd.Series,
    trials: int = 1,
    trial_sharpe_variance: float | None = None,
    periods_per_year: float = TRADING_DAYS_PER_YEAR,
    risk_free: float = 0.0,
) -> float:
    """Deflated Sharpe ratio (Bailey & Lopez de Prado 2014): ``PSR(SR_0)`` with ``SR_0 = E[max SR]``.

    SR is the per-period (non-annualised) Sharpe ``mean(x) / std(x, ddof=1)`` of excess returns
    ``x = r - rf_p`` (``rf_p`` from the annual ``risk_free`` and ``periods_per_year``, which serves only
    that conversion); skewness and Pearson kurtosis are the population moments of x (scipy.stats.skew and
    kurtosis with bias=True, fisher=False); T = number of returns. SR_0 from :func:`expected_max_sharpe`
    with N = trials and V = trial_sharpe_variance (the variance of the per-period Sharpe ratios of the
    configurations tried; divide by ppy a variance of annualised Sharpes). With trials = 1 this is the
    PSR against 0. Why: the best of many backtests has a high Sharpe by luck alone; DSR is the
    probability that this one beats that luck. NaN with fewer than 2 returns or constant returns."""
    if trials > 1 and trial_sharpe_variance is None:
        raise InputError("trial_sharpe_variance is required when trials > 1 (variance of the tried Sharpe ratios)")
    benchmark = expected_max_sharpe(trials, 0.0 if trial_sharpe_variance is None else trial_sharpe_variance)
    moments = _excess_moments(period_returns, risk_free, periods_per_year)
    if moments is None:
        return math.nan
    excess, mean, std = moments
    skewness = float(stats.skew(excess, bias=True))
    kurtosis = float(stats.kurtosis(excess, fisher=False, bias=True))
    return probabilistic_sharpe_ratio(mean / std, benchmark, excess.size, skewness, kurtosis)


# -------------------------------------------------------------------------------------------------- summary


def summarize(
    equity: pd.Series,
    trades: pd.DataFrame,
    positions: pd.Series | pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
    trials: int = 1,
    trial_sharpe_variance: float | None = None,
) -> dict[str, float]:
    """Every metric of a run, keyed as in :data:`METRIC_DEFINITIONS` (same keys, same order, always all present).

    ``periods_per_year`` is inferred from the equity index when None (see :func:`infer_periods_per_year`);
    CAGR, Calmar and turnover then use calendar time (years of 365.25 days), and ``(n - 1) / ppy`` years
    when it is given. ``risk_free`` is annual. ``exposure`` is NaN without positions, ``alpha`` and
    ``beta`` NaN without a benchmark equity curve (NAV, aligned to the strategy's timestamps by index).
    Durations are floats (days, bars); ``number_of_trades`` is a float for a uniform dict[str, float]."""
    equity = _check_equity(equity)
    ppy = _resolve_ppy(equity.index, periods_per_year)
    period_returns = returns(equity)
    duration, duration_periods = max_drawdown_duration(equity)
    alpha, beta = math.nan, math.nan
    if benchmark is not None:
        alpha, beta = alpha_beta(period_returns, returns(benchmark), ppy, risk_free)
    dsr = deflated_sharpe_ratio(period_returns, trials, trial_sharpe_variance, ppy, risk_free)
    result: dict[str, float] = {
        "total_return": total_return(equity),
        "cagr": cagr(equity, periods_per_year),
        "annual_volatility": annual_volatility(period_returns, ppy),
        "sharpe": sharpe_ratio(period_returns, ppy, risk_free),
        "sortino": sortino_ratio(period_returns, ppy, risk_free),
        "calmar": calmar_ratio(equity, periods_per_year),
        "max_drawdown": max_drawdown(equity),
        "max_drawdown_duration_days": duration / pd.Timedelta(days=1),
        "max_drawdown_duration_periods": float(duration_periods),
        "win_rate": win_rate(trades),
        "profit_factor": profit_factor(trades),
        "average_win": average_win(trades),
        "average_loss": average_loss(trades),
        "win_loss_ratio": win_loss_ratio(trades),
        "exposure": math.nan if positions is None else exposure(positions),
        "turnover": turnover(trades, equity, periods_per_year),
        "number_of_trades": float(number_of_trades(trades)),
        "fees_paid": fees_paid(trades),
        "alpha": alpha,
        "beta": beta,
        "deflated_sharpe": dsr,
        "periods_per_year": ppy,
    }
    return {key: float(value) for key, value in result.items()}


def empty_trades() -> pd.DataFrame:
    """A trade list with no rows and the expected columns."""
    return pd.DataFrame({column: pd.Series(dtype=float) for column in TRADE_COLUMNS})


def _excess_moments(
    period_returns: pd.Series | np.ndarray, risk_free: float, periods_per_year: float
) -> tuple[np.ndarray, float, float] | None:
    """(excess returns, their mean, their std with ddof=1), or None when a Sharpe ratio is
    undefined: fewer than 2 returns, or constant excess returns."""
    values = np.asarray(period_returns, dtype=float)
    if values.size < 2:
        return None
    excess = values - per_period_risk_free(risk_free, periods_per_year)
    mean, std = float(np.mean(excess)), float(np.std(excess, ddof=1))
    return None if _is_flat(mean, std) else (excess, mean, std)

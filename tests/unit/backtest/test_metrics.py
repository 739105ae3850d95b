"""Each metric against a case small enough to compute by hand, plus edge cases and the deflated Sharpe."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradebrain.backtest import metrics
from tradebrain.core.errors import InputError

SQRT252 = math.sqrt(252)


def daily(values: list[float], start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", tz="UTC"), dtype=float)


def trade_list(pnl: list[float], fees: list[float] | None = None) -> pd.DataFrame:
    n = len(pnl)
    times = pd.date_range("2024-01-01", periods=max(n, 1), freq="D", tz="UTC")[:n]
    return pd.DataFrame(
        {
            "entry_time": times,
            "exit_time": times,
            "symbol": ["X"] * n,
            "quantity": [1.0] * n,
            "entry_price": [10.0] * n,
            "exit_price": [10.0] * n,
            "pnl": pnl,
            "fees": fees if fees is not None else [0.0] * n,
        }
    )


# Equity [100, 110, 99, 120]: returns 0.1, -0.1, 21/99; mean 7/99; deviations 2.9/99, -16.9/99, 14/99,
# so the ddof=1 variance is (8.41 + 285.61 + 196) / 2 / 99^2 = 245.01 / 99^2.
EQUITY = daily([100, 110, 99, 120])
MEAN = 7 / 99
STD = math.sqrt(245.01) / 99


def test_returns_and_total_return() -> None:
    np.testing.assert_allclose(metrics.returns(EQUITY).to_numpy(), [0.1, -0.1, 21 / 99])
    assert metrics.total_return(EQUITY) == pytest.approx(0.2)


def test_cagr_calendar_and_periods() -> None:
    # Calendar: 3 days elapsed = 3 / 365.25 years.
    assert metrics.cagr(EQUITY) == pytest.approx(1.2 ** (365.25 / 3) - 1)
    # Given ppy = 252: 3 periods = 3 / 252 years.
    assert metrics.cagr(EQUITY, periods_per_year=252) == pytest.approx(1.2**84 - 1)
    # One year exactly, doubling: 100%.
    index = pd.DatetimeIndex(["2024-01-01", "2024-12-31 06:00"], tz="UTC")
    assert metrics.cagr(pd.Series([50.0, 100.0], index=index)) == pytest.approx(1.0)


def test_volatility_sharpe_sortino() -> None:
    r = metrics.returns(EQUITY)
    assert metrics.annual_volatility(r, 252) == pytest.approx(STD * SQRT252)
    assert metrics.sharpe_ratio(r, 252) == pytest.approx(7 / math.sqrt(245.01) * SQRT252)
    # Downside deviation: sqrt((0 + 0.01 + 0) / 3).
    assert metrics.sortino_ratio(r, 252) == pytest.approx(MEAN / (0.1 / math.sqrt(3)) * SQRT252)


def test_risk_free_is_annual_compounded_per_period() -> None:
    r = metrics.returns(EQUITY)
    rf = 1.05 ** (1 / 252) - 1
    excess = np.array([0.1, -0.1, 21 / 99]) - rf
    assert metrics.per_period_risk_free(0.05, 252) == pytest.approx(rf)
    expected = excess.mean() / excess.std(ddof=1) * SQRT252
    assert metrics.sharpe_ratio(r, 252, risk_free=0.05) == pytest.approx(expected)
    downside = math.sqrt(np.mean(np.minimum(excess, 0) ** 2))
    assert metrics.sortino_ratio(r, 252, risk_free=0.05) == pytest.approx(excess.mean() / downside * SQRT252)


def test_drawdown_duration_and_calmar() -> None:
    assert metrics.max_drawdown(EQUITY) == pytest.approx(0.1)  # 99 / 110 - 1
    duration, periods = metrics.max_drawdown_duration(EQUITY)
    assert (duration, periods) == (pd.Timedelta(days=2), 2)  # peak 110 on day 2, back above on day 4
    assert metrics.calmar_ratio(EQUITY, periods_per_year=252) == pytest.approx((1.2**84 - 1) / 0.1)


def test_drawdown_never_recovered_and_longest_spell() -> None:
    # Spell 1: 100 -> 90 -> 100 (2 bars); spell 2: 100 -> 95 -> 96 -> 97 (3 bars, not recovered).
    equity = daily([100, 90, 100, 95, 96, 97])
    assert metrics.max_drawdown(equity) == pytest.approx(0.1)
    assert metrics.max_drawdown_duration(equity) == (pd.Timedelta(days=3), 3)
    assert metrics.max_drawdown_duration(daily([1, 2, 3])) == (pd.Timedelta(0), 0)


def test_trade_statistics() -> None:
    trades = trade_list([10, -5, 20, 0, -15], fees=[1, 1, 1, 1, 1])
    assert metrics.number_of_trades(trades) == 5
    assert metrics.fees_paid(trades) == 5.0
    assert metrics.win_rate(trades) == pytest.approx(2 / 5)
    assert metrics.profit_factor(trades) == pytest.approx(30 / 20)
    assert metrics.average_win(trades) == pytest.approx(15)
    assert metrics.average_loss(trades) == pytest.approx(-10)
    assert metrics.win_loss_ratio(trades) == pytest.approx(1.5)


def test_no_trades_and_no_losses() -> None:
    empty = metrics.empty_trades()
    assert metrics.number_of_trades(empty) == 0
    assert metrics.fees_paid(empty) == 0.0
    for value in (metrics.win_rate(empty), metrics.profit_factor(empty), metrics.average_win(empty)):
        assert math.isnan(value)
    winners = trade_list([3, 4])
    assert metrics.profit_factor(winners) == math.inf
    assert math.isnan(metrics.average_loss(winners))
    assert metrics.win_rate(winners) == 1.0
    assert metrics.profit_factor(trade_list([-3])) == 0.0


def test_exposure() -> None:
    assert metrics.exposure(pd.Series([0.0, 1.0, 1.0, 0.0])) == 0.5
    frame = pd.DataFrame({"A": [0, 1, 0, 0], "B": [0, 0, -2, 0]})
    assert metrics.exposure(frame) == 0.5


def test_turnover() -> None:
    index = pd.DatetimeIndex(["2024-01-01", "2024-12-31 06:00"], tz="UTC")  # 365.25 days: one year
    equity = pd.Series([90.0, 110.0], index=index)  # mean NAV 100
    trades = trade_list([0, 0])
    trades["quantity"] = [1.0, -2.0]
    trades["entry_price"] = [50.0, 10.0]
    trades["exit_price"] = [60.0, np.nan]  # the short is still open: entry leg only
    # (1 * (50 + 60) + 2 * 10) / 100 / 1 year
    assert metrics.turnover(trades, equity) == pytest.approx(1.3)
    # With ppy given, years = (n - 1) / ppy = 1 / 2.
    assert metrics.turnover(trades, equity, periods_per_year=2) == pytest.approx(2.6)


def test_alpha_beta_recovers_an_exact_line() -> None:
    bench_r = np.array([0.01, -0.02, 0.03, 0.005])
    strat_r = 0.001 + 2 * bench_r
    bench = daily(list(100 * np.cumprod(np.r_[1, 1 + bench_r])))
    strat = daily(list(100 * np.cumprod(np.r_[1, 1 + strat_r])))
    alpha, beta = metrics.alpha_beta(metrics.returns(strat), metrics.returns(bench), 252)
    assert beta == pytest.approx(2.0)
    assert alpha == pytest.approx(0.001 * 252)
    # With a risk-free rate the regression is on excess returns: x - rf = a + b (y - rf) => a = 0.001 + rf.
    rf = metrics.per_period_risk_free(0.03, 252)
    alpha, beta = metrics.alpha_beta(metrics.returns(strat), metrics.returns(bench), 252, risk_free=0.03)
    assert beta == pytest.approx(2.0)
    assert alpha == pytest.approx((0.001 + rf) * 252)


def test_constant_equity_gives_nan_not_inf() -> None:
    flat = daily([100, 100, 100, 100])
    r = metrics.returns(flat)
    assert math.isnan(metrics.sharpe_ratio(r, 252))
    assert math.isnan(metrics.sharpe_ratio(r, 252, risk_free=0.05))  # constant excess return too
    assert math.isnan(metrics.sortino_ratio(r, 252))
    assert metrics.annual_volatility(r, 252) == 0.0
    assert metrics.max_drawdown(flat) == 0.0
    assert math.isnan(metrics.calmar_ratio(flat))
    assert math.isnan(metrics.deflated_sharpe_ratio(r))


def test_steady_growth_is_not_an_infinite_sharpe() -> None:
    growth = daily(list(100 * 1.001 ** np.arange(50)))
    assert math.isnan(metrics.sharpe_ratio(metrics.returns(growth), 252))


def test_one_period_summary() -> None:
    summary = metrics.summarize(daily([100.0]), metrics.empty_trades())
    assert list(summary) == list(metrics.METRIC_DEFINITIONS)
    assert summary["total_return"] == 0.0
    assert summary["max_drawdown"] == 0.0
    assert summary["number_of_trades"] == 0.0
    for key in ("cagr", "annual_volatility", "sharpe", "sortino", "deflated_sharpe", "periods_per_year"):
        assert math.isnan(summary[key]), key


def test_infer_periods_per_year() -> None:
    business_days = pd.bdate_range("2024-01-01", periods=30, tz="UTC")
    assert metrics.infer_periods_per_year(business_days) == 252
    sessions = [pd.date_range(f"2024-01-0{d} 14:30", periods=390, freq="min", tz="UTC") for d in (2, 3)]
    minutes = sessions[0].append(sessions[1])
    assert metrics.infer_periods_per_year(minutes) == pytest.approx(252 * 390)
    five_minutes = minutes[::5]
    assert metrics.infer_periods_per_year(five_minutes) == pytest.approx(252 * 390 / 5)
    around_the_clock = pd.date_range("2024-01-01", periods=100, freq="h", tz="UTC")
    assert metrics.infer_periods_per_year(around_the_clock) == pytest.approx(365.25 * 24)
    weekly = pd.date_range("2024-01-01", periods=10, freq="7D", tz="UTC")
    assert metrics.infer_periods_per_year(weekly) == pytest.approx(365.25 / 7)
    with pytest.raises(InputError):
        metrics.infer_periods_per_year(business_days[:1])


def test_summarize_matches_the_functions() -> None:
    trades = trade_list([10, -5], fees=[0.5, 0.5])
    positions = pd.Series([0, 1, 1, 0], index=EQUITY.index)
    bench = daily([100, 101, 100, 103])
    summary = metrics.summarize(EQUITY, trades, positions=positions, benchmark=bench)
    assert list(summary) == list(metrics.METRIC_DEFINITIONS)
    assert all(isinstance(value, float) for value in summary.values())
    assert summary["periods_per_year"] == 252
    assert summary["sharpe"] == pytest.approx(7 / math.sqrt(245.01) * SQRT252)
    assert summary["max_drawdown_duration_days"] == 2.0
    assert summary["max_drawdown_duration_periods"] == 2.0
    assert summary["exposure"] == 0.5
    assert summary["fees_paid"] == 1.0
    assert summary["cagr"] == pytest.approx(metrics.cagr(EQUITY))
    _, beta = metrics.alpha_beta(metrics.returns(EQUITY), metrics.returns(bench), 252)
    assert summary["beta"] == pytest.approx(beta)
    bare = metrics.summarize(EQUITY, trades)
    assert math.isnan(bare["exposure"]) and math.isnan(bare["alpha"]) and math.isnan(bare["beta"])


def test_bad_inputs_are_named() -> None:
    with pytest.raises(InputError, match="DatetimeIndex"):
        metrics.total_return(pd.Series([1.0, 2.0]))
    with pytest.raises(InputError, match="NaN"):
        metrics.total_return(daily([1.0, math.nan]))
    with pytest.raises(InputError, match="missing columns"):
        metrics.win_rate(pd.DataFrame({"pnl": [1.0]}))
    with pytest.raises(InputError, match="trial_sharpe_variance"):
        metrics.deflated_sharpe_ratio(metrics.returns(EQUITY), trials=5)


# --------------------------------------------------------------------------------------- deflated Sharpe


def sample_returns(seed: int = 0, size: int = 500) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(rng.standard_t(df=5, size=size) * 0.01 + 0.001)


def test_one_trial_is_the_psr_against_zero() -> None:
    r = sample_returns()
    x = r.to_numpy()
    sr = x.mean() / x.std(ddof=1)
    skew = stats.skew(x)
    kurt = stats.kurtosis(x, fisher=False)
    z = sr * math.sqrt(len(x) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert metrics.deflated_sharpe_ratio(r, trials=1) == pytest.approx(stats.norm.cdf(z))
    assert metrics.expected_max_sharpe(1, 0.3) == 0.0


def test_deflated_sharpe_decreases_with_trials() -> None:
    r = sample_returns()
    values = [metrics.deflated_sharpe_ratio(r, trials=n, trial_sharpe_variance=0.002) for n in (1, 2, 10, 100, 1000)]
    assert all(later < earlier for earlier, later in itertools.pairwise(values))


def test_expected_max_sharpe_worked_example() -> None:
    # N = 100, V = 0.002: E[max SR] = sqrt(V) ((1 - g) Z^-1(0.99) + g Z^-1(1 - 1/(100 e))).
    g = 0.5772156649015329
    expected = math.sqrt(0.002) * ((1 - g) * stats.norm.ppf(0.99) + g * stats.norm.ppf(1 - 1 / (100 * math.e)))
    assert metrics.expected_max_sharpe(100, 0.002) == pytest.approx(expected)
    assert expected == pytest.approx(0.1132, abs=5e-4)


def test_deflated_sharpe_paper_example() -> None:
    # Bailey & Lopez de Prado (2014), numerical example: annualised SR 2.5 over T = 1250 daily returns
    # (250 a year), N = 100 trials with variance 0.5 of annualised SRs, skew -3, kurtosis 10 => DSR ~ 0.90.
    sr = 2.5 / math.sqrt(250)
    sr0 = metrics.expected_max_sharpe(100, 0.5 / 250)
    dsr = metrics.probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0)
    # Independent computation.
    z = (sr - sr0) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr**2)
    assert dsr == pytest.approx(stats.norm.cdf(z))
    assert dsr == pytest.approx(0.90, abs=0.01)


def test_psr_is_nan_when_undefined() -> None:
    assert math.isnan(metrics.probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0))
    assert math.isnan(metrics.probabilistic_sharpe_ratio(math.nan, 0.0, 100, 0.0, 3.0))

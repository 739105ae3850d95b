"""RiskGate: one test per rule with hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tradebrain.core.errors import InputError
from tradebrain.core.types import AccountView, Order
from tradebrain.risk import RiskGate, RiskLimits, historical_var

T = pd.Timestamp("2024-01-02 15:00", tz="UTC")
Z99 = 2.3263478740408408


def account(
    cash: float = 100_000.0,
    positions: dict[str, float] | None = None,
    prices: dict[str, float] | None = None,
    day_start: float = 100_000.0,
    peak: float = 100_000.0,
) -> AccountView:
    return AccountView(cash, positions or {}, prices or {"A": 100.0, "B": 50.0}, day_start, peak)


# ----------------------------------------------------------------------------- position %
def test_position_limit_resizes_to_the_cap() -> None:
    gate = RiskGate(RiskLimits(max_position_pct=0.02))  # 2% of 100k = 2000 = 20 shares at 100
    decision = gate.review(Order("A", 50.0, "entry"), account(), T)
    assert decision.order == Order("A", 20.0, "entry")
    assert decision.rule == "max_position_pct"
    assert gate.log[-1].requested == 50.0 and gate.log[-1].approved == 20.0 and gate.log[-1].symbol == "A"
    assert gate.review(Order("A", -50.0), account(), T).approved_quantity == -20.0


def test_order_within_limit_is_unchanged_and_not_logged() -> None:
    gate = RiskGate(RiskLimits(max_position_pct=0.02))
    order = Order("A", 10.0)
    decision = gate.review(order, account(), T)
    assert decision.order is order and decision.rule is None and gate.log == []


def test_position_already_over_the_limit_only_reduces() -> None:
    gate = RiskGate(RiskLimits(max_position_pct=0.02))
    book = account(cash=97_000.0, positions={"A": 30.0})  # 3000 of 100k: over 2% after a price move
    denied = gate.review(Order("A", 5.0), book, T)
    assert denied.order is None and denied.rule == "max_position_pct"
    assert gate.review(Order("A", -10.0), book, T).approved_quantity == -10.0  # reducing: always allowed
    # crossing zero: 30 -> -30 is cut to 30 -> -20 (the short cap)
    assert gate.review(Order("A", -60.0), book, T).approved_quantity == -50.0


# ----------------------------------------------------------------------------- leverage
def test_gross_leverage_counts_other_positions() -> None:
    book = account(cash=70_000.0, positions={"A": 300.0})  # 30k in A, NAV 100k
    gate = RiskGate(RiskLimits(max_gross_leverage=0.5))  # room: 50k - 30k = 20k = 400 B at 50
    decision = gate.review(Order("B", 1000.0), book, T)
    assert decision.approved_quantity == pytest.approx(400.0) and decision.rule == "max_gross_leverage"


def test_the_tighter_of_position_and_leverage_binds() -> None:
    book = account(cash=70_000.0, positions={"A": 300.0})
    both = RiskGate(RiskLimits(max_position_pct=0.3, max_gross_leverage=0.5))  # 600 vs 400 shares
    assert both.review(Order("B", 1000.0), book, T).rule == "max_gross_leverage"
    tight = RiskGate(RiskLimits(max_position_pct=0.1, max_gross_leverage=0.5))  # 200 vs 400 shares
    decision = tight.review(Order("B", -1000.0), book, T)
    assert decision.approved_quantity == pytest.approx(-200.0) and decision.rule == "max_position_pct"


def test_nonpositive_equity_denies_new_risk() -> None:
    gate = RiskGate(RiskLimits(max_position_pct=0.5))
    broke = account(cash=-10_000.0, positions={"A": 100.0})  # NAV 0
    assert gate.review(Order("B", 1.0), broke, T).rule == "nonpositive_equity"
    assert gate.review(Order("A", -100.0), broke, T).approved_quantity == -100.0


# ----------------------------------------------------------------------------- daily loss
def test_daily_loss_kill_switch_flattens_and_halts_until_next_utc_date() -> None:
    gate = RiskGate(RiskLimits(max_daily_loss_pct=0.05))
    losing = account(cash=85_000.0, positions={"A": 100.0}, prices={"A": 90.0})  # 94k: 6% below 100k
    flatten = gate.mark(losing, T)
    assert flatten == [Order("A", -100.0, "risk flatten (max_daily_loss_pct)")]
    assert gate.log[-1].rule == "max_daily_loss_pct"
    # while halted: reducing allowed, new risk denied, crossing orders cut to a flatten
    assert gate.review(Order("A", -40.0), losing, T).approved_quantity == -40.0
    assert gate.review(Order("A", 1.0), losing, T).order is None
    assert gate.review(Order("A", -150.0), losing, T).approved_quantity == -100.0
    flat = account(cash=94_000.0, prices={"A": 90.0}, day_start=100_000.0)
    assert gate.review(Order("A", 1.0), flat, T + pd.Timedelta(hours=8)).rule == "max_daily_loss_pct"
    # 2024-01-02 23:30 in New York is 2024-01-03 04:30 UTC: a later UTC date lifts the halt
    next_day = pd.Timestamp("2024-01-02 23:30", tz="America/New_York")
    fresh = account(cash=94_000.0, prices={"A": 90.0}, day_start=94_000.0)
    assert gate.mark(fresh, next_day) == []
    assert gate.review(Order("A", 1.0), fresh, next_day).approved_quantity == 1.0


def test_daily_loss_breach_starts_at_the_limit() -> None:
    gate = RiskGate(RiskLimits(max_daily_loss_pct=0.05, max_drawdown_pct=0.1))
    assert gate.mark(account(cash=87_000.0, positions={"A": 100.0}, prices={"A": 90.0}), T) == []  # 4% loss
    at_limit = account(cash=86_000.0, positions={"A": 100.0}, prices={"A": 90.0})  # 95k: exactly 5%
    assert gate.mark(at_limit, T) == [Order("A", -100.0, "risk flatten (max_daily_loss_pct)")]


# ----------------------------------------------------------------------------- drawdown
def test_drawdown_stop_halts_until_reset() -> None:
    gate = RiskGate(RiskLimits(max_drawdown_pct=0.1))
    # equity 107k vs peak 120k: 10.8% drawdown
    down = account(cash=98_000.0, positions={"B": 180.0}, day_start=107_000.0, peak=120_000.0)
    assert gate.mark(down, T) == [Order("B", -180.0, "risk flatten (max_drawdown_pct)")]
    flat = account(cash=107_000.0, day_start=107_000.0, peak=120_000.0)
    later = T + pd.Timedelta(days=5)
    assert gate.mark(flat, later) == []
    assert gate.review(Order("A", 1.0), flat, later).rule == "max_drawdown_pct"
    gate.reset()  # the peak restarts from the next marked equity, not from account.peak_equity
    assert gate.mark(flat, later) == []
    assert gate.review(Order("A", 1.0), flat, later).approved_quantity == 1.0


def test_drawdown_peak_follows_marked_equity() -> None:
    gate = RiskGate(RiskLimits(max_drawdown_pct=0.1))
    gate.mark(account(cash=200_000.0, peak=100_000.0), T)  # a new high the account did not report
    assert gate.mark(account(cash=179_000.0, positions={"A": 1.0}, peak=100_000.0), T) != []


# ----------------------------------------------------------------------------- VaR
def test_historical_var_limit_binary_searches_the_size() -> None:
    returns = {"A": -0.01 * np.arange(1, 101)}  # 99% VaR of weight w is 0.9901 w
    gate = RiskGate(RiskLimits(var_limit_pct=0.1, var_window=100))
    decision = gate.review(Order("A", 500.0), account(), T, returns)
    # max weight 0.1 / 0.9901; NAV 100k, price 100 -> 101.0001 shares
    assert decision.rule == "var_limit_pct"
    assert decision.approved_quantity == pytest.approx(0.1 / 0.9901 * 1000, rel=1e-9)
    weight = decision.approved_quantity * 100.0 / 100_000.0
    assert historical_var(np.array([weight]), returns["A"].reshape(-1, 1)) <= 0.1
    assert gate.review(Order("A", 100.0), account(), T, returns).rule is None
    assert gate.review(Order("A", 100.0), account(), T, None).rule is None  # no returns: VaR not checked


def test_parametric_var_limit() -> None:
    returns = {"A": np.tile([0.01, -0.01], 50)}  # mean 0, sample sd 0.01 * sqrt(100 / 99)
    gate = RiskGate(RiskLimits(var_limit_pct=0.02, var_method="parametric", var_window=100))
    decision = gate.review(Order("A", -2000.0), account(), T, returns)
    max_weight = 0.02 / (Z99 * 0.01 * math.sqrt(100 / 99))
    assert decision.approved_quantity == pytest.approx(-max_weight * 1000, rel=1e-9)


def test_var_window_uses_the_latest_returns() -> None:
    calm_then_crash = np.concatenate([np.full(50, -0.5), np.full(50, 0.001)])
    gate = RiskGate(RiskLimits(var_limit_pct=0.01, var_window=50))
    assert gate.review(Order("A", 100.0), account(), T, {"A": calm_then_crash}).rule is None


def test_var_needs_returns_for_every_held_symbol() -> None:
    gate = RiskGate(RiskLimits(var_limit_pct=0.1))
    book = account(cash=90_000.0, positions={"B": 200.0})
    with pytest.raises(InputError, match="missing"):
        gate.review(Order("A", 10.0), book, T, {"A": np.zeros(10)})
    with pytest.raises(InputError, match="equal lengths"):
        gate.review(Order("A", 10.0), book, T, {"A": np.zeros(10), "B": np.zeros(9)})


def test_bad_orders_are_rejected() -> None:
    gate = RiskGate(RiskLimits())
    with pytest.raises(InputError):
        gate.review(Order("A", math.nan), account(), T)
    with pytest.raises(InputError):
        gate.review(Order("ZZZ", 1.0), account(), T)

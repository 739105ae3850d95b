"""Event-driven engine: hand-computed fills and costs, no look-ahead, the accounting identity,
long/short, flat at the close, several symbols and the risk gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tradebrain.backtest import ledger, loop
from tradebrain.backtest.baselines import BuyAndHold, SmaCrossover
from tradebrain.backtest.engine import (
    AccountingError,
    BacktestConfig,
    run_backtest,
)
from tradebrain.core.errors import InputError
from tradebrain.risk import RiskGate, RiskLimits


def bars_of(opens: list[float], closes: list[float], symbol: str = "X", freq: str = "D") -> pd.DataFrame:
    n = len(closes)
    o, c = np.asarray(opens, float), np.asarray(closes, float)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.date_range("2024-01-01", periods=n, freq=freq, tz="UTC"),
            "open": o,
            "high": np.maximum(o, c),
            "low": np.minimum(o, c),
            "close": c,
            "volume": 1.0,
        }
    )


def walk_bars(n: int, seed: int, symbol: str = "X", freq: str = "D") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    opens = close * np.exp(rng.normal(0.0, 0.005, n))
    return bars_of(list(opens), list(close), symbol, freq)


class Schedule:
    """Targets from a fixed list (the target of bar t is schedule[t])."""

    def __init__(self, schedule: list[float]) -> None:
        self.schedule = np.asarray(schedule, float)
        self.name = "schedule"

    def target(self, history: np.ndarray) -> float:
        return float(self.schedule[len(history) - 1])

    def targets(self, closes: np.ndarray) -> np.ndarray:
        return self.schedule[: len(closes)].copy()


def test_next_open_fill_with_commission_fee_and_slippage_by_hand() -> None:
    bars = bars_of([10.0, 11.0, 12.0, 13.0], [10.5, 11.5, 12.5, 13.5])
    config = BacktestConfig(cash=1000.0, commission=0.01, fixed_fee=1.0, slippage_bps=100.0)
    result = run_backtest(bars, Schedule([1, 1, 0, 0]), config)
    buy_price = 11.0 * 1.01  # decided at bar 0, filled at bar 1's open plus 1% slippage
    shares = np.floor((1000.0 - 1.0) / (buy_price * 1.01))
    buy_fee = 0.01 * shares * buy_price + 1.0
    sell_price = 13.0 * 0.99  # decided flat at bar 2, filled at bar 3's open less slippage
    sell_fee = 0.01 * shares * sell_price + 1.0
    cash_after = 1000.0 - shares * buy_price - buy_fee + shares * sell_price - sell_fee
    assert shares == 89  # 999 / (11.11 * 1.01) = 89.03
    assert result.positions[:, 0].tolist() == [0, 89, 89, 0]
    assert result.equity[0] == 1000.0
    assert result.equity[1] == pytest.approx(1000.0 - shares * buy_price - buy_fee + shares * 11.5, rel=1e-12)
    assert result.final_equity == pytest.approx(cash_after, rel=1e-12)
    [trade] = result.trades
    assert (trade.entry_bar, trade.exit_bar, trade.quantity) == (1, 3, 89)
    assert trade.entry_price == pytest.approx(buy_price) and trade.exit_price == pytest.approx(sell_price)
    assert trade.fees == pytest.approx(buy_fee + sell_fee)
    assert trade.pnl == pytest.approx(cash_after - 1000.0, rel=1e-12)
    assert [f.quantity for f in result.fills] == [89, -89]
    assert result.fills[0].timestamp == bars["timestamp"][1]


def test_close_fill_is_same_bar_and_whole_shares_by_default() -> None:
    bars = bars_of([10.0, 11.0, 12.0], [10.0, 12.0, 9.0])
    result = run_backtest(bars, BuyAndHold(), BacktestConfig(cash=105.0, fill="close"))
    assert result.positions[:, 0].tolist() == [10, 10, 10]
    assert result.equity.tolist() == [105.0, 125.0, 95.0]
    fractional = run_backtest(bars, BuyAndHold(), BacktestConfig(cash=105.0, fill="close", fractional=True))
    assert fractional.positions[0, 0] == pytest.approx(10.5)
    assert fractional.final_equity == pytest.approx(94.5)


class Peeker:
    name = "peeker"

    def target(self, history: np.ndarray) -> float:
        return float(history[len(history)] > history[-1])  # the next bar: must not exist

    def targets(self, closes: np.ndarray) -> np.ndarray:  # pragma: no cover - never called here
        raise NotImplementedError


class Writer:
    name = "writer"

    def target(self, history: np.ndarray) -> float:
        history[-1] = 0.0  # tampering with the data must fail
        return 0.0

    def targets(self, closes: np.ndarray) -> np.ndarray:  # pragma: no cover - never called here
        raise NotImplementedError


def test_a_policy_cannot_see_or_change_the_future() -> None:
    bars = walk_bars(30, 0)
    with pytest.raises(IndexError):
        run_backtest(bars, Peeker())
    with pytest.raises(ValueError, match="read-only"):
        run_backtest(bars, Writer())


def test_history_passed_to_the_policy_ends_at_the_current_bar() -> None:
    bars = walk_bars(25, 1)
    seen: list[np.ndarray] = []

    class Recorder(Schedule):
        def target(self, history: np.ndarray) -> float:
            seen.append(history.copy())
            return 0.0

    run_backtest(bars, Recorder([0] * 25))
    closes = bars["close"].to_numpy()
    assert len(seen) == len(bars)  # asked once per bar: the check below covers every bar
    assert all(np.array_equal(h, closes[: t + 1]) for t, h in enumerate(seen))


def test_identity_holds_every_bar_and_a_break_raises() -> None:
    bars = walk_bars(400, 2)
    config = BacktestConfig(commission=0.002, fixed_fee=0.5, slippage_bps=3.0)
    result = run_backtest(bars, SmaCrossover(5, 12), config)  # would raise on any broken bar
    assert len(result.trades) > 5
    assert result.positions[-1, 0] == 0  # flat at the end: the closed trades hold the whole P&L
    assert sum(t.pnl for t in result.trades) == pytest.approx(result.final_equity - config.cash, rel=1e-9)


def test_a_book_that_breaks_the_identity_is_caught_at_that_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    # a bug in the book: every position change also conjures one dollar of cash (patched into the
    # loop's Python form, which calls the same compiled book the compiled loop does)
    move_to = loop._move_to

    def leaky_move_to(account: np.ndarray, *args: Any) -> tuple[int, int]:
        n_fills = args[4]
        result = move_to(account, *args)
        if result[0] > n_fills:
            account[ledger.CASH] += 1.0
        return result  # type: ignore[no-any-return]

    bars = walk_bars(40, 3)
    policy = Schedule([0, 0, 1] + [1] * 37)
    assert run_backtest(bars, policy, compiled=False).fill_table[0, ledger.FILL_BAR] == 3  # decided at 2
    monkeypatch.setattr(loop, "_move_to", leaky_move_to)
    with pytest.raises(AccountingError, match="bar 3: "):
        run_backtest(bars, policy, compiled=False)


def test_long_short_and_long_only() -> None:
    bars = bars_of([10.0, 10.0, 8.0, 8.0], [10.0, 9.0, 8.0, 8.0])
    schedule = Schedule([-1, -1, 0, 0])
    long_only = run_backtest(bars, schedule, BacktestConfig(cash=100.0))
    assert not long_only.positions.any() and long_only.final_equity == 100.0
    short = run_backtest(bars, schedule, BacktestConfig(cash=100.0, allow_short=True))
    assert short.positions[:, 0].tolist() == [0, -10, -10, 0]
    assert short.final_equity == pytest.approx(120.0)
    assert short.trades[0].quantity == -10 and short.trades[0].pnl == pytest.approx(20.0)


def test_flip_from_long_to_short_is_two_orders_and_two_trades() -> None:
    bars = bars_of([10.0, 10.0, 10.0, 12.0, 12.0], [10.0, 10.0, 10.0, 12.0, 12.0])
    result = run_backtest(bars, Schedule([1, -1, -1, 0, 0]), BacktestConfig(cash=100.0, allow_short=True))
    assert [f.quantity for f in result.fills] == [10, -10, -10, 10]
    assert [t.quantity for t in result.trades] == [10, -10]
    assert result.final_equity == pytest.approx(80.0)


def test_flat_at_close_closes_each_session_and_daily_breakdown_adds_up() -> None:
    bars = walk_bars(3 * 390, 3, freq="min")
    bars["timestamp"] = pd.DatetimeIndex(
        [
            ts
            for day in ("2024-01-02", "2024-01-03", "2024-01-04")
            for ts in pd.date_range(f"{day} 14:30", periods=390, freq="min", tz="UTC")
        ]
    )
    config = BacktestConfig(commission=0.001, flat_at_close=True)
    result = run_backtest(bars, BuyAndHold(), config)
    last = [389, 779, 1169]
    assert (result.positions[last, 0] == 0).all()
    assert (result.positions[[1, 391, 781], 0] > 0).all()  # re-entered at each next open
    daily = result.daily
    assert len(daily) == 3 and daily["trades"].tolist() == [1, 1, 1] and daily["fills"].tolist() == [2, 2, 2]
    assert daily["end_equity"].iloc[-1] == result.final_equity
    assert daily["pnl"].sum() == pytest.approx(result.final_equity - config.cash)
    assert daily["fees"].sum() == pytest.approx(sum(t.fees for t in result.trades))
    assert daily["start_equity"].iloc[1] == daily["end_equity"].iloc[0]


def test_several_symbols_share_the_cash() -> None:
    bars = pd.concat([walk_bars(50, 4, "A"), walk_bars(50, 5, "B")], ignore_index=True)
    result = run_backtest(bars, BuyAndHold(), BacktestConfig(cash=10_000.0))
    assert result.symbols == ["A", "B"]
    value = result.positions[1] * bars.pivot(index="timestamp", columns="symbol", values="open").to_numpy()[1]
    assert (value > 4000).all() and value.sum() <= 10_000.0
    with pytest.raises(InputError, match="different timestamps"):
        run_backtest(pd.concat([walk_bars(50, 4, "A"), walk_bars(40, 5, "B")], ignore_index=True), BuyAndHold())


def test_risk_gate_caps_entries_marks_before_the_policy_and_logs_the_rule() -> None:
    # cash 1000 at price 10; leverage 0.5 caps the entry at 50 shares. Bar 3 closes at 8: the day's
    # loss (100 = 10%) breaches the 5% daily limit, so the gate flattens at that close, before the
    # policy decides (its target stays long); bar 4 is a new UTC day, so the order fills at its open,
    # capped at floor(0.5 * 900 / 8) = 56 whole shares.
    closes = [10.0, 10.0, 10.0, 8.0, 8.0, 8.0, 8.0]
    gate = RiskGate(RiskLimits(max_gross_leverage=0.5, max_daily_loss_pct=0.05))
    result = run_backtest(bars_of(closes, closes), BuyAndHold(), BacktestConfig(cash=1000.0), risk_gate=gate)
    assert result.positions[:, 0].tolist() == [0, 50, 50, 0, 56, 56, 56]
    assert [e.rule for e in result.risk_events] == ["max_gross_leverage", "max_gross_leverage"]
    assert result.risk_events[0].requested.quantity == 100 and result.risk_events[0].approved is not None
    assert [e.rule for e in gate.log] == ["max_gross_leverage", "max_daily_loss_pct", "max_gross_leverage"]
    assert gate.log[1].timestamp == result.timestamps[3] and gate.log[1].approved == -50


def test_bad_config_and_bad_bars_fail_fast() -> None:
    with pytest.raises(InputError, match="fill"):
        BacktestConfig(fill="open")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="commission"):
        BacktestConfig(commission=-0.1)
    with pytest.raises(InputError, match="columns"):
        run_backtest(pd.DataFrame({"close": [1.0]}), BuyAndHold())


def test_a_nan_target_is_rejected() -> None:
    with pytest.raises(InputError, match="bar 2"):
        run_backtest(walk_bars(5, 0), Schedule([0, 1, float("nan"), 0, 0]))

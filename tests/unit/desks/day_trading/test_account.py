"""The account: fills at the given price, commission on both sides exactly, and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.account import DayAccount
from tradebrain.desks.day_trading.actions import BUY, SELL, action_mask


def test_fractional_round_trip_pays_commission_on_both_sides() -> None:
    account = DayAccount(10_000.0, commission=0.001)
    buy = account.buy(100.0)
    quantity = 10_000.0 / (100.0 * 1.001)  # all-in, fee included
    assert buy.quantity == pytest.approx(quantity, rel=1e-15)
    assert buy.fee == pytest.approx(0.001 * quantity * 100.0, rel=1e-12)
    assert account.cash == 0.0
    assert account.mark(100.0) == pytest.approx(10_000.0 - buy.fee, rel=1e-15)
    assert account.position_pnl(110.0) == pytest.approx(1.1 / 1.001 - 1, rel=1e-12)
    sell, reward = account.sell(110.0)
    assert sell.fee == pytest.approx(0.001 * quantity * 110.0, rel=1e-12)
    expected_cash = 10_000.0 * 1.1 * 0.999 / 1.001  # = 10,978.021978...
    assert account.cash == pytest.approx(expected_cash, rel=1e-12)
    assert account.fees == pytest.approx(buy.fee + sell.fee, rel=1e-15)
    assert reward == pytest.approx(100 * (expected_cash / 10_000.0 - 1), rel=1e-12)
    assert (account.trades, account.quantity, account.in_position) == (1, 0.0, False)
    assert account.realised_pnl == pytest.approx(quantity * 10.0, rel=1e-12)


def test_whole_shares_floor_the_quantity_and_keep_the_rest_in_cash() -> None:
    account = DayAccount(10_000.0, commission=0.001, whole_shares=True)
    buy = account.buy(300.0)
    assert buy.quantity == 33.0  # floor(10,000 / 300.3)
    assert buy.fee == pytest.approx(9.9, abs=1e-12)
    assert account.cash == pytest.approx(90.1, abs=1e-9)
    sell, reward = account.sell(310.0)
    assert sell.fee == pytest.approx(10.23, abs=1e-12)
    assert account.cash == pytest.approx(90.1 + 10_230.0 - 10.23, abs=1e-9)  # 10,309.87
    assert reward == pytest.approx(100 * (10_309.87 / 10_000 - 1), rel=1e-10)


def test_cash_fraction_spends_only_that_share() -> None:
    account = DayAccount(10_000.0, commission=0.0, cash_fraction=0.25)
    account.buy(50.0)
    assert account.quantity == pytest.approx(50.0)
    assert account.cash == pytest.approx(7_500.0)
    _, reward = account.sell(60.0)
    assert account.cash == pytest.approx(10_500.0)  # 7,500 + 50 x 60
    assert reward == pytest.approx(5.0)  # the balance, not the traded notional, moves 5%


def test_zero_commission_round_trip_at_the_same_price_is_flat() -> None:
    account = DayAccount(1_000.0)
    account.buy(37.0)
    _, reward = account.sell(37.0)
    assert reward == pytest.approx(0.0, abs=1e-12)
    assert account.cash == pytest.approx(1_000.0, rel=1e-15)


def test_bad_use_is_rejected() -> None:
    account = DayAccount(100.0, whole_shares=True)
    with pytest.raises(InputError, match="sell without an open position"):
        account.sell(10.0)
    with pytest.raises(InputError, match="buys no whole unit"):
        account.buy(1_000.0)
    account.buy(10.0)
    with pytest.raises(InputError, match="long-only and all-in"):
        account.buy(10.0)
    for price in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(InputError, match="fill price"):
            account.sell(price)
    with pytest.raises(InputError, match="cash must be finite"):
        DayAccount(0.0)
    with pytest.raises(InputError, match="commission"):
        DayAccount(100.0, commission=0.5)
    with pytest.raises(InputError, match="cash_fraction"):
        DayAccount(100.0, cash_fraction=1.5)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    steps=st.lists(
        st.tuples(st.floats(-0.05, 0.05), st.integers(0, 2)),  # (log return, action preference)
        min_size=1,
        max_size=60,
    ),
    commission=st.floats(0.0, 0.01),
    cash_fraction=st.floats(0.05, 1.0),
    whole_shares=st.booleans(),
    cooldown=st.integers(0, 3),
    exit_window=st.integers(1, 4),
)
@example(steps=[(0.003, 1), (0.0, 2)], commission=0.0, cash_fraction=0.7, whole_shares=False, cooldown=0, exit_window=1)
def test_accounting_identity_holds_at_every_step(
    steps: list[tuple[float, int]],
    commission: float,
    cash_fraction: float,
    whole_shares: bool,
    cooldown: int,
    exit_window: int,
) -> None:
    initial = 10_000.0
    account = DayAccount(initial, commission, cash_fraction, whole_shares)
    price, entry_bar = 50.0, 0
    rewards = 0.0
    for bar, (log_return, preference) in enumerate(steps):
        price *= math.exp(log_return)
        held = bar - entry_bar if account.in_position else 0
        mask = action_mask(account.in_position, held, len(steps) - 1 - bar, cooldown, exit_window)
        allowed = np.flatnonzero(mask)
        action = int(allowed[preference % len(allowed)])
        if action == BUY:
            account.buy(price)
            entry_bar = bar
        elif action == SELL:
            rewards += account.sell(price)[1]
        if bar == len(steps) - 1 and account.in_position:
            rewards += account.sell(price)[1]
        unrealised = account.quantity * (price - account.entry_price)
        expected = initial + account.realised_pnl + unrealised - account.fees
        assert account.mark(price) == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert account.cash >= 0.0
        assert account.fees >= 0.0
    assert not account.in_position  # flat at the session end
    assert account.cash == pytest.approx(initial + account.realised_pnl - account.fees, rel=1e-9)
    if account.trades == 1:  # one round trip: its reward is the day's percentage change
        assert rewards == pytest.approx(100 * (account.cash / initial - 1), rel=1e-9, abs=1e-9)

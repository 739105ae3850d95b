"""The cash account of a long-only, all-in day trader: fills, fees, balance and the trade reward.

Pure arithmetic with no notion of time, so the env (one day, reset per episode) and the backtest
(consecutive days, balance carried over) share the very same fill and fee rules.

Fills happen at the price given (the env passes the close of the bar where the action was
decided). A buy spends `cash_fraction` of the cash, fee included:
quantity = cash_fraction * cash / (price * (1 + commission)), floored with `whole_shares`;
the fee is commission * quantity * price on the buy and on the sell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from numba import njit

from tradebrain.core.errors import InputError

PERCENT = 100.0


@dataclass(frozen=True)
class Fill:
    """One executed trade: side ("buy" or "sell"), quantity, price, fee and the cash after it."""

    side: str
    quantity: float
    price: float
    fee: float
    cash_after: float


class DayAccount:
    """Cash, an optional long position, and running totals of fees and realised PnL.

    Invariant after every call: `cash + quantity * price == initial_cash + realised_pnl
    + quantity * (price - entry_price) - fees` (up to rounding), and cash >= 0.
    `realised_pnl` is gross of fees: the sum of quantity * (exit - entry) over closed trades.
    """

    def __init__(
        self, cash: float, commission: float = 0.0, cash_fraction: float = 1.0, whole_shares: bool = False
    ) -> None:
        if not (math.isfinite(cash) and cash > 0):
            raise InputError(f"account cash must be finite and > 0 (got {cash})")
        if not (0.0 <= commission < 0.1):
            raise InputError(f"commission must be a fraction in [0, 0.1) of the traded value (got {commission})")
        if not (0.0 < cash_fraction <= 1.0):
            raise InputError(f"cash_fraction must be in (0, 1] (got {cash_fraction})")
        self.initial_cash = float(cash)
        self.commission = float(commission)
        self.cash_fraction = float(cash_fraction)
        self.whole_shares = whole_shares
        self.cash = float(cash)
        self.quantity = 0.0
        self.entry_price = 0.0
        self.entry_balance = 0.0
        self.entry_cost = 0.0
        self.fees = 0.0
        self.realised_pnl = 0.0
        self.trades = 0

    @property
    def in_position(self) -> bool:
        """Whether a long position is open."""
        return self.quantity > 0

    def mark(self, price: float) -> float:
        """The balance: cash plus the position valued at `price` (no exit fee deducted)."""
        return self.cash + self.quantity * price

    def position_pnl(self, price: float) -> float:
        """The open position's return at `price`, net of the entry fee: value / cost - 1 (0 when flat)."""
        if not self.in_position:
            return 0.0
        return self.quantity * price / self.entry_cost - 1.0

    def buy(self, price: float) -> Fill:
        """Open a position with `cash_fraction` of the cash at `price`, fee included."""
        _check_price(price)
        if self.in_position:
            raise InputError("buy while a position is open: the account is long-only and all-in; sell first")
        quantity, cost, fee = buy_size(self.cash, price, self.commission, self.cash_fraction, self.whole_shares)
        if quantity <= 0:
            raise InputError(
                f"cash {self.cash:.2f} x cash_fraction {self.cash_fraction} buys no whole unit at price {price}; "
                "set whole_shares=False or raise cash"
            )
        self.entry_balance = self.cash
        self.entry_price = float(price)
        self.entry_cost = cost
        self.quantity = quantity
        self.cash -= cost
        self.fees += fee
        return Fill("buy", quantity, float(price), fee, self.cash)

    def sell(self, price: float) -> tuple[Fill, float]:
        """Close the position at `price`; returns the fill and the trade's reward: the balance after
        the exit over the balance before the entry, minus 1, in percent (both fees included)."""
        _check_price(price)
        if not self.in_position:
            raise InputError("sell without an open position: the account is long-only; buy first")
        quantity = self.quantity
        notional = quantity * price
        fee = self.commission * notional
        self.cash += notional - fee
        self.fees += fee
        self.realised_pnl += quantity * (price - self.entry_price)
        self.trades += 1
        reward = PERCENT * (self.cash / self.entry_balance - 1.0)
        self.quantity = 0.0
        self.entry_price = 0.0
        self.entry_cost = 0.0
        return Fill("sell", quantity, float(price), fee, self.cash), reward


@njit(cache=True)
def buy_size(
    cash: float, price: float, commission: float, cash_fraction: float, whole_shares: bool
) -> tuple[float, float, float]:
    """(quantity, cost, fee) of an all-in buy of `cash_fraction` of `cash` at `price`, fee included:
    the one sizing rule of the env, its batched twin and the live decision path. Fractional: the
    whole budget is spent (so cash never goes below 0) and the fee is what it leaves over the
    notional, never below 0 by rounding; whole units: floored, one fewer while rounding would
    overspend the cash."""
    budget = cash_fraction * cash
    if whole_shares:
        quantity = float(math.floor(budget / (price * (1.0 + commission))))
        notional = quantity * price
        fee = commission * notional
        while quantity > 0 and notional + fee > cash:  # rounding at an exact multiple
            quantity -= 1.0
            notional = quantity * price
            fee = commission * notional
        return quantity, notional + fee, fee
    quantity = budget / (price * (1.0 + commission))
    return quantity, budget, max(budget - quantity * price, 0.0)


def _check_price(price: float) -> None:
    if not (math.isfinite(price) and price > 0):
        raise InputError(f"fill price must be finite and > 0 (got {price}); check the bars' close column")

"""The cash account of a long-only, all-in day trader: fills, fees, balance and the trade reward.

Pure arithmetic with no notion of time, so the env (one day, reset per episode) and the backtest
(consecutive days, balance carried over) share the very same fill and fee rules.

Fills go through the simulated venue's compiled rules (market/fills.py): the caller passes the
fill bar's reference price (the env's venue decides which bar and which price) and half spread;
a buy pays reference * (1 + half spread + slippage), a sell receives reference * (1 - half spread
- slippage), and each fill pays the venue's ticket fee (commission * traded value + fee per
share, at least the minimum fee). A buy spends at most `cash_fraction` of the cash, fee
included, sized by the venue's `affordable_quantity` (floored with `whole_shares`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from numba import njit

from tradebrain.core.errors import InputError
from tradebrain.market.fills import BUY, SELL, affordable_quantity, market_price, ticket_fee

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
        self,
        cash: float,
        commission: float = 0.0,
        cash_fraction: float = 1.0,
        whole_shares: bool = False,
        slippage: float = 0.0,
        fee_per_share: float = 0.0,
        min_fee: float = 0.0,
    ) -> None:
        if not (math.isfinite(cash) and cash > 0):
            raise InputError(f"account cash must be finite and > 0 (got {cash})")
        if not (0.0 <= commission < 0.1):
            raise InputError(f"commission must be a fraction in [0, 0.1) of the traded value (got {commission})")
        if not (0.0 < cash_fraction <= 1.0):
            raise InputError(f"cash_fraction must be in (0, 1] (got {cash_fraction})")
        for name, value in (("slippage", slippage), ("fee_per_share", fee_per_share), ("min_fee", min_fee)):
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name} must be finite and >= 0 (got {value})")
        self.initial_cash = float(cash)
        self.commission = float(commission)
        self.cash_fraction = float(cash_fraction)
        self.whole_shares = whole_shares
        self.slippage = float(slippage)
        self.fee_per_share = float(fee_per_share)
        self.min_fee = float(min_fee)
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

    def buy(self, reference: float, half_spread: float = 0.0) -> Fill:
        """Open a position with `cash_fraction` of the cash, fee included, at `reference` plus the
        half spread and the slippage."""
        _check_price(reference)
        if self.in_position:
            raise InputError("buy while a position is open: the account is long-only and all-in; sell first")
        price = float(market_price(reference, BUY, half_spread, self.slippage, 0.0))
        quantity, cost, fee = buy_size(
            self.cash, price, self.commission, self.cash_fraction, self.whole_shares, self.fee_per_share, self.min_fee
        )
        if quantity <= 0:
            raise InputError(
                f"cash {self.cash:.2f} x cash_fraction {self.cash_fraction} buys no whole unit at price {price}; "
                "set whole_shares=False or raise cash"
            )
        self.entry_balance = self.cash
        self.entry_price = price
        self.entry_cost = cost
        self.quantity = quantity
        self.cash -= cost
        self.fees += fee
        return Fill("buy", quantity, price, fee, self.cash)

    def sell(self, reference: float, half_spread: float = 0.0) -> tuple[Fill, float]:
        """Close the position at `reference` minus the half spread and the slippage; returns the fill
        and the trade's reward: the balance after the exit over the balance before the entry, minus
        1, in percent (every cost of both fills included)."""
        _check_price(reference)
        if not self.in_position:
            raise InputError("sell without an open position: the account is long-only; buy first")
        quantity = self.quantity
        price = float(market_price(reference, SELL, half_spread, self.slippage, 0.0))
        fee = float(ticket_fee(quantity, price, self.fee_per_share, self.commission, self.min_fee))
        self.cash += quantity * price - fee
        self.fees += fee
        self.realised_pnl += quantity * (price - self.entry_price)
        self.trades += 1
        reward = PERCENT * (self.cash / self.entry_balance - 1.0)
        self.quantity = 0.0
        self.entry_price = 0.0
        self.entry_cost = 0.0
        return Fill("sell", quantity, price, fee, self.cash), reward


@njit(cache=True)
def buy_size(
    cash: float,
    price: float,
    commission: float,
    cash_fraction: float,
    whole_shares: bool,
    fee_per_share: float,
    min_fee: float,
) -> tuple[float, float, float]:
    """(quantity, cost, fee) of an all-in buy of `cash_fraction` of `cash` at the fill `price`,
    fee included: the one sizing rule of the env, its batched twin and the live decision path,
    the venue's `affordable_quantity`. The cost never exceeds the budget: a float rounding above
    it is taken from the fee (fractional) or from the quantity (whole units)."""
    budget = cash_fraction * cash
    quantity = affordable_quantity(budget, price, commission, fee_per_share, min_fee, 0.0, not whole_shares)
    if quantity <= 0.0:
        return 0.0, 0.0, 0.0
    fee = ticket_fee(quantity, price, fee_per_share, commission, min_fee)
    if whole_shares:
        while quantity > 0 and quantity * price + fee > budget:  # rounding at an exact multiple
            quantity -= 1.0
            fee = ticket_fee(quantity, price, fee_per_share, commission, min_fee)
        return quantity, quantity * price + fee, fee
    cost = quantity * price + fee
    if cost > budget:
        cost = budget
        fee = max(budget - quantity * price, 0.0)
    return quantity, cost, fee


def _check_price(price: float) -> None:
    if not (math.isfinite(price) and price > 0):
        raise InputError(f"fill price must be finite and > 0 (got {price}); check the bars' close column")

"""Domain types shared by the risk gate, the backtester and (later) the live node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Order:
    """A request to change a position by `quantity` shares (positive buys, negative sells)."""

    symbol: str
    quantity: float
    reason: str = ""


@dataclass(frozen=True)
class Fill:
    """An executed order: shares, price, fees paid and when."""

    symbol: str
    quantity: float
    price: float
    fee: float
    timestamp: pd.Timestamp


@dataclass(frozen=True)
class AccountView:
    """What the risk gate sees: cash, positions (shares), their marks, and reference equities."""

    cash: float
    positions: Mapping[str, float]
    prices: Mapping[str, float]
    day_start_equity: float
    peak_equity: float

    @property
    def equity(self) -> float:
        """Cash plus positions at their marks (NAV)."""
        return self.cash + sum(quantity * self.prices[symbol] for symbol, quantity in self.positions.items())

    @property
    def gross_exposure(self) -> float:
        """Sum of |position value|."""
        return sum(abs(quantity) * self.prices[symbol] for symbol, quantity in self.positions.items())

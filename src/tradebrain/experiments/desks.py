"""Registry of the desks the experiment runner supports, keyed by the spec's `desk` name."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from tradebrain.core.errors import ConfigError
from tradebrain.experiments.adapter import DeskAdapter


def _execution() -> DeskAdapter:
    from tradebrain.experiments.execution_desk import EXECUTION

    return EXECUTION


def _market_making() -> DeskAdapter:
    from tradebrain.experiments.market_making_desk import MARKET_MAKING

    return MARKET_MAKING


def _day_trading() -> DeskAdapter:
    from tradebrain.experiments.day_trading_desk import DAY_TRADING

    return DAY_TRADING


DESKS: dict[str, Callable[[], DeskAdapter]] = {
    "execution": _execution,
    "market-making": _market_making,
    "daytrading": _day_trading,
}
"""Name -> adapter factory; imported lazily, so validating a spec for one desk never loads another."""


def get_desk(name: str) -> DeskAdapter:
    """The adapter of the named desk, or a ConfigError suggesting the closest registered name."""
    if name not in DESKS:
        close = difflib.get_close_matches(name, list(DESKS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown desk '{name}'{hint} (supported: {', '.join(DESKS)})")
    return DESKS[name]()

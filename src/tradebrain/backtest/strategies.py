"""Name -> signal policy registry for the backtest CLI (`--policy sma-crossover --fast 10 ...`).

Why a registry: the CLI, configs and reports name strategies by string; one table maps each name
to a factory and says which parameters it takes, and unknown names fail with a hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from tradebrain.backtest.baselines import BuyAndHold, RandomTarget, SignalPolicy, SmaCrossover
from tradebrain.core.errors import ConfigError

STRATEGIES: dict[str, Callable[..., SignalPolicy]] = {
    "buy-and-hold": BuyAndHold,
    "sma-crossover": SmaCrossover,
    "random": RandomTarget,
}
"""Factories by name: buy-and-hold(), sma-crossover(fast=10, slow=20), random(seed=0, p_long=0.5)."""


def strategy_names() -> list[str]:
    """The registered strategy names, sorted."""
    return sorted(STRATEGIES)


def make_strategy(name: str, **params: Any) -> SignalPolicy:
    """The signal policy registered as `name`, built with `params` (e.g. fast=10, slow=20);
    an unknown name or parameter raises ConfigError naming the alternatives."""
    factory = STRATEGIES.get(name)
    if factory is None:
        close = difflib.get_close_matches(name, STRATEGIES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown strategy {name!r} (known: {', '.join(strategy_names())}){hint}")
    try:
        return factory(**params)
    except TypeError as error:
        raise ConfigError(f"strategy {name!r}: {error}") from error

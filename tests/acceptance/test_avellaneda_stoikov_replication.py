"""The baselines reproduce the simulation of Avellaneda & Stoikov (2008) with the paper's parameters."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tradebrain.desks.market_making.replication import replicate
from tradebrain.desks.market_making.simulator import MarketMakingConfig

PAPER_GAMMA_01 = {
    "inventory": {"profit_mean": 62.94, "profit_std": 5.89, "final_q_std": 2.80},
    "symmetric": {"profit_mean": 67.21, "profit_std": 13.43, "final_q_std": 8.66},
}
"""The paper's table for gamma = 0.1 (1,000 paths). Its reported spread, 1.29, is (2/gamma)ln(1 + gamma/k)
alone; the inventory strategy's average spread also has gamma*sigma^2*T/2 = 0.2, which we check."""


@cache
def replicated(gamma: float) -> dict[str, Any]:
    """The paper's experiment for one gamma, run once per test session."""
    return replicate(gamma, paths=1000, seed=0, config=MarketMakingConfig())


@pytest.mark.parametrize("gamma", [0.1, 0.01, 1.0])
def test_inventory_strategy_trades_a_little_profit_for_much_less_risk(gamma: float) -> None:
    result = replicated(gamma)
    inventory, symmetric = result["strategies"]["inventory"], result["strategies"]["symmetric"]
    assert inventory["profit_std"]["value"] < 0.7 * symmetric["profit_std"]["value"]
    assert inventory["final_q_std"]["value"] < 0.7 * symmetric["final_q_std"]["value"]
    assert inventory["profit_std"]["high"] < symmetric["profit_std"]["low"]
    assert inventory["final_q_std"]["high"] < symmetric["final_q_std"]["low"]
    ratio = inventory["profit_mean"]["value"] / symmetric["profit_mean"]["value"]
    assert 0.5 < ratio < 1.0
    for strategy in (inventory, symmetric):  # neither builds up inventory on average
        assert abs(strategy["final_q_mean"]["value"]) < 0.5


@pytest.mark.parametrize("gamma", [0.1, 0.01, 1.0])
def test_average_spread_equals_the_formula_to_three_decimals(gamma: float) -> None:
    result = replicated(gamma)
    assert set(result["strategies"]) == set(PAPER_GAMMA_01)  # both of the paper's strategies, and only those
    for strategy in result["strategies"].values():
        assert abs(strategy["average_spread"] - result["formula_spread"]) < 5e-4


def test_gamma_01_is_in_the_papers_neighbourhood() -> None:
    result = replicated(0.1)
    for name, expected in PAPER_GAMMA_01.items():
        for key, value in expected.items():
            assert result["strategies"][name][key]["value"] == pytest.approx(value, rel=0.15), (name, key)
    assert result["formula_spread"] == pytest.approx(0.2 + 1.29, abs=0.01)

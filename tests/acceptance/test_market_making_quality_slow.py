"""The market-making desk's quality claims on full budgets (marked slow: `make test-slow`, ~4 min)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebrain.backtest.bootstrap import Estimate
from tradebrain.core.config import load_config
from tradebrain.desks.market_making.study import MarketMakingDeskConfig, baseline_policies, evaluate, train

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _study(name: str) -> tuple[dict[str, Estimate], float]:
    config = load_config(MarketMakingDeskConfig, CONFIGS / name, environ={})
    agent = train(config, out_dir=None, progress=False)
    report = evaluate(config, [*baseline_policies(config, ("A-S inventory", "symmetric")), agent.policy], False)
    return report.metrics[agent.policy.name], report.metrics["A-S inventory"]["utility"].value


@pytest.mark.slow
def test_agent_beats_the_symmetric_quoter_and_is_within_ten_percent_of_a_s() -> None:
    metrics, a_s_utility = _study("market-making.yaml")
    assert metrics["utility_minus_symmetric"].low > 0
    assert -metrics["utility_minus_A-S inventory"].value < 0.10 * a_s_utility


@pytest.mark.slow
def test_agent_beats_a_s_when_the_fill_curve_is_not_the_one_a_s_assumes() -> None:
    metrics, _ = _study("market-making-mismatch.yaml")
    assert metrics["utility_minus_A-S inventory"].low > 0

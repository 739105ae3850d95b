"""The issue's quality claims on full budgets (marked slow: `make test-slow`, ~30 s on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebrain.core.config import load_config
from tradebrain.desks.execution.study import ExecutionDeskConfig, baseline_policies, evaluate, train

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _study(name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    config = load_config(ExecutionDeskConfig, CONFIGS / name, environ={})
    agent = train(config, out_dir=None, progress=False)
    policies = [*baseline_policies(config, ("TWAP", "AC-optimal")), agent.policy]
    return evaluate(config, policies, progress=False).metrics[agent.policy.name]


@pytest.mark.slow
def test_agent_is_within_five_percent_of_the_ac_optimum_on_the_ac_market() -> None:
    metrics = _study("execution.yaml")
    gap = metrics["objective_minus_AC-optimal"].value
    ac_objective = metrics["objective_usd"].value - gap
    assert gap / ac_objective < 0.05


@pytest.mark.slow
def test_agent_beats_twap_and_ac_on_a_mean_reverting_market() -> None:
    metrics = _study("execution-ou.yaml")
    assert metrics["objective_minus_TWAP"].high < 0
    assert metrics["objective_minus_AC-optimal"].high < 0

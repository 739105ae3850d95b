from __future__ import annotations

import numpy as np
import pytest

from tradebrain.desks.execution.baselines import almgren_chriss, sell_now, twap
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.evaluate import measure, run_episodes
from tradebrain.desks.runs import evaluation_seeds

CONFIG = ExecutionEnvConfig()


@pytest.fixture(scope="module")
def outcomes() -> list:  # type: ignore[type-arg]
    seeds = evaluation_seeds(300, 10**6)
    return [run_episodes(CONFIG, policy, seeds) for policy in (twap(CONFIG), almgren_chriss(CONFIG), sell_now(CONFIG))]


def test_policies_face_the_same_price_paths(outcomes: list) -> None:  # type: ignore[type-arg]
    twap_run, ac_run, _ = outcomes
    # Unaffected paths are shared: mid differences come only from each policy's permanent impact.
    gamma = CONFIG.market.gamma
    unaffected_twap = twap_run.mids + gamma * (CONFIG.task.shares - twap_run.holdings)
    unaffected_ac = ac_run.mids + gamma * (CONFIG.task.shares - ac_run.holdings)
    np.testing.assert_allclose(unaffected_twap, unaffected_ac, atol=1e-6)


def test_metrics_by_hand(outcomes: list) -> None:  # type: ignore[type-arg]
    report = measure(outcomes, CONFIG)
    twap_run, ac_run, _ = outcomes
    ac = report.metrics["AC-optimal"]
    savings = twap_run.shortfall - ac_run.shortfall
    notional = CONFIG.task.shares * CONFIG.market.s0
    assert ac["shortfall_usd"].value == pytest.approx(ac_run.shortfall.mean())
    assert ac["shortfall_bps"].value == pytest.approx(ac_run.shortfall.mean() / notional * 1e4)
    assert ac["savings_usd"].value == pytest.approx(savings.mean())
    assert ac["win_rate"].value == pytest.approx(np.mean(savings > 0))
    assert ac["information_ratio"].value == pytest.approx(savings.mean() / savings.std(ddof=1))
    lam = CONFIG.task.risk_aversion
    objective = ac_run.shortfall.mean() + lam * ac_run.shortfall.var(ddof=1)
    assert ac["objective_usd"].value == pytest.approx(objective)
    twap_objective = twap_run.shortfall.mean() + lam * twap_run.shortfall.var(ddof=1)
    assert ac["objective_minus_TWAP"].value == pytest.approx(objective - twap_objective)
    assert "savings_usd" not in report.metrics["TWAP"]  # zero by definition, not reported


def test_ac_beats_twap_on_its_own_objective(outcomes: list) -> None:  # type: ignore[type-arg]
    report = measure(outcomes, CONFIG)
    difference = report.metrics["AC-optimal"]["objective_minus_TWAP"]
    assert difference.high < 0
    assert report.metrics["sell-now"]["shortfall_std_usd"].value == pytest.approx(0.0, abs=1e-6)


def test_missing_reference_is_an_error(outcomes: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match="reference policy 'VWAP' was not run"):
        measure(outcomes, CONFIG, reference="VWAP")

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.desks.execution.almgren_chriss import optimal_holdings, profile_holdings, twap_holdings
from tradebrain.desks.execution.baselines import almgren_chriss, sell_now, twap, u_shaped_volume, vwap
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.evaluate import run_episodes
from tradebrain.rl.policy import Policy

CONFIG = ExecutionEnvConfig()
SEEDS = list(range(20))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (twap(CONFIG), twap_holdings(CONFIG.task)),
        (almgren_chriss(CONFIG), optimal_holdings(CONFIG.market, CONFIG.task, CONFIG.task.risk_aversion)),
        (vwap(CONFIG, u_shaped_volume(5)), profile_holdings(CONFIG.task, u_shaped_volume(5))),
    ],
    ids=["twap", "ac", "vwap"],
)
def test_schedule_policies_follow_their_schedule_in_the_env(policy: Policy, expected: np.ndarray) -> None:
    outcomes = run_episodes(CONFIG, policy, SEEDS)
    # float32 observations limit precision to ~1e-7 of X.
    np.testing.assert_allclose(outcomes.holdings, np.broadcast_to(expected, outcomes.holdings.shape), atol=1.0)


def test_sell_now_trades_everything_first() -> None:
    outcomes = run_episodes(CONFIG, sell_now(CONFIG), SEEDS)
    assert np.all(outcomes.holdings[:, 1:] == 0)
    # Everything at the arrival mid minus full temporary impact: a deterministic cost.
    x = CONFIG.task.shares
    expected = CONFIG.market.gamma * 0 + CONFIG.market.epsilon * x + CONFIG.market.eta * x**2 / CONFIG.task.tau
    np.testing.assert_allclose(outcomes.shortfall, expected, rtol=1e-9)


def test_baselines_are_policies_with_continuous_actions() -> None:
    for policy in (twap(CONFIG), almgren_chriss(CONFIG), sell_now(CONFIG)):
        assert isinstance(policy, Policy)
        actions = policy.act(np.zeros((3, 10), dtype=np.float32) + np.array([1, 1, *[0] * 8], dtype=np.float32))
        assert actions.shape == (3, 1)
        assert np.all((actions >= 0) & (actions <= 1))


def test_ac_with_zero_risk_aversion_is_twap() -> None:
    np.testing.assert_allclose(almgren_chriss(CONFIG, 0.0).holdings, twap(CONFIG).holdings, atol=1e-12)

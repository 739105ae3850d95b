from __future__ import annotations

import pytest

from tradebrain.core.config import build_config
from tradebrain.core.errors import ConfigError
from tradebrain.desks.market_making.study import (
    MM_BASELINES,
    MarketMakingDeskConfig,
    MarketMakingEvaluateConfig,
    baseline_policies,
    evaluate,
    train,
)
from tradebrain.rl.training import TrainConfig


def test_sac_trains_a_few_steps_and_acts_as_a_policy() -> None:
    config = MarketMakingDeskConfig(
        train=TrainConfig(algo="sac", timesteps=300, n_envs=4, hyperparams={"learning_starts": 50, "batch_size": 16}),
        evaluate=MarketMakingEvaluateConfig(episodes=10),
    )
    agent = train(config, out_dir=None, progress=False)
    report = evaluate(config, [*baseline_policies(config, ("symmetric",)), agent.policy], progress=False)
    assert "utility_minus_symmetric" in report.metrics["SAC"]


def test_baselines_by_name_and_bad_names_fail_at_load_time() -> None:
    config = MarketMakingDeskConfig()
    assert [policy.name for policy in baseline_policies(config)] == list(MM_BASELINES)
    with pytest.raises(ConfigError, match=r"unknown baselines \['AS'\]"):
        build_config(MarketMakingDeskConfig, {"evaluate": {"baselines": ["AS"]}}, environ={})


def test_glft_quotes_tighter_than_a_s_and_keeps_inventory_small() -> None:
    config = MarketMakingDeskConfig(evaluate=MarketMakingEvaluateConfig(episodes=300))
    report = evaluate(config, baseline_policies(config), progress=False)
    glft, a_s = report.metrics["GLFT"], report.metrics["A-S inventory"]
    assert glft["mean_spread"].value < a_s["mean_spread"].value
    assert glft["inventory_std"].value < report.metrics["symmetric"]["inventory_std"].value

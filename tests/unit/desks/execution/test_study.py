from __future__ import annotations

import pytest

from tradebrain.core.errors import ConfigError
from tradebrain.desks.execution.study import (
    BASELINES,
    EvaluateConfig,
    ExecutionDeskConfig,
    algorithm_defaults,
    analyze,
    baseline_policies,
    evaluate,
    train,
)
from tradebrain.rl.training import TrainConfig


def test_defaults_are_the_classic_almgren_chriss_example() -> None:
    config = ExecutionDeskConfig()
    market, task = config.market, config.task
    assert (task.shares, market.s0, market.sigma, market.drift) == (1e6, 50.0, 0.95, 0.0)
    assert (market.epsilon, market.eta, market.gamma) == (0.0625, 2.5e-6, 2.5e-7)
    assert (task.horizon, task.steps, task.risk_aversion) == (5.0, 5, 1e-6)


def test_every_algorithm_trains_a_few_steps_and_acts_as_a_policy() -> None:
    for algo, action in (("ppo", "continuous"), ("ppo", "discrete"), ("sac", "continuous"), ("dqn", "discrete")):
        config = ExecutionDeskConfig(
            action=action,
            train=TrainConfig(algo=algo, timesteps=300, n_envs=4, hyperparams=_tiny(algo)),
            evaluate=EvaluateConfig(episodes=10),
        )
        agent = train(config, out_dir=None, progress=False)
        report = evaluate(config, [*baseline_policies(config, ("TWAP",)), agent.policy], progress=False)
        assert agent.policy.name in report.metrics, algo


def _tiny(algo: str) -> dict[str, int]:
    if algo == "ppo":
        return {"n_steps": 16, "batch_size": 32}
    return {"learning_starts": 50, "batch_size": 16}


def test_unknown_hyperparameter_is_a_config_error_when_the_config_loads() -> None:
    from tradebrain.core.config import build_config

    data = {"train": {"timesteps": 10, "n_envs": 2, "hyperparams": {"learnig_rate": 0.1}}}
    with pytest.raises(ConfigError, match=r"'train\.hyperparams': 'learnig_rate'.*did you mean 'learning_rate'"):
        build_config(ExecutionDeskConfig, data, environ={})


def test_ppo_defaults_are_undiscounted_and_batched() -> None:
    defaults = algorithm_defaults(ExecutionDeskConfig())
    assert defaults["gamma"] == 1.0
    assert defaults["n_envs"] >= 256


def test_baselines_by_name() -> None:
    config = ExecutionDeskConfig()
    assert [policy.name for policy in baseline_policies(config)] == list(BASELINES)
    with pytest.raises(ValueError, match="unknown baselines"):
        baseline_policies(config, ("TWAP", "POV"))


def test_analyze_kappa_differs_from_its_continuous_approximation_on_the_coarse_grid() -> None:
    result = analyze(ExecutionDeskConfig())
    assert result["kappa"] == pytest.approx(0.607076, rel=1e-5)
    assert result["kappa_continuous_approximation"] == pytest.approx(0.600833, rel=1e-5)
    assert result["schedules"]["AC-optimal"]["objective"] < result["schedules"]["TWAP"]["objective"]


def test_training_saves_the_model_reward_statistics_and_checkpoints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = ExecutionDeskConfig(
        train=TrainConfig(timesteps=2048, n_envs=32, checkpoints=1, hyperparams={"n_steps": 16, "batch_size": 64})
    )
    agent = train(config, out_dir=tmp_path, progress=True)
    assert agent.path == tmp_path / "model.zip" and agent.path.is_file()
    assert (tmp_path / "vecnormalize.pkl").is_file()
    assert list((tmp_path / "checkpoints").glob("ppo_*_steps.zip"))


def test_vwap_profile_from_the_config() -> None:
    config = ExecutionDeskConfig(evaluate=EvaluateConfig(vwap_profile=(4, 1, 1, 1, 1)))
    (policy,) = baseline_policies(config, ("VWAP",), config.evaluate.vwap_profile)
    assert policy.holdings.tolist() == pytest.approx([1.0, 0.5, 0.375, 0.25, 0.125, 0.0])  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"vwap_profile has 3 values but task\.steps is 5"):
        ExecutionDeskConfig(evaluate=EvaluateConfig(vwap_profile=(1, 1, 1)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": {"algo": "ppoo"}}, r"train\.algo.*did you mean 'ppo'"),
        ({"train": {"algo": "dqn"}}, r"algorithm 'dqn' needs discrete actions; set action: discrete"),
        ({"evaluate": {"baselines": ["TWAP", "POV"]}}, r"evaluate\.baselines.*unknown baselines \['POV'\]"),
    ],
)
def test_bad_study_configs_fail_at_load_time(data: dict, message: str) -> None:  # type: ignore[type-arg]
    from tradebrain.core.config import build_config

    with pytest.raises(ConfigError, match=message):
        build_config(ExecutionDeskConfig, data, environ={})

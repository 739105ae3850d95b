"""Learning happens on a tiny budget: PPO moves from a poor initial policy towards the AC optimum."""

from __future__ import annotations

from tradebrain.desks.execution.study import EvaluateConfig, ExecutionDeskConfig, baseline_policies, evaluate, train
from tradebrain.rl.training import TrainConfig


def _objective(config: ExecutionDeskConfig, timesteps: int) -> tuple[float, float]:
    trained = config.model_copy(update={"train": TrainConfig(timesteps=timesteps, seed=3)})
    agent = train(trained, out_dir=None, progress=False)
    report = evaluate(config, [*baseline_policies(config, ("TWAP", "AC-optimal")), agent.policy], progress=False)
    metrics = report.metrics[agent.policy.name]
    return metrics["objective_usd"].value, report.metrics["AC-optimal"]["objective_usd"].value


def test_ppo_learns_the_liquidation_schedule() -> None:
    config = ExecutionDeskConfig(evaluate=EvaluateConfig(episodes=400))
    untrained, optimum = _objective(config, timesteps=1)
    trained, _ = _objective(config, timesteps=60_000)
    # After one PPO update the policy still holds most shares to the deadline (~3.4x the optimal
    # objective); 60k steps close over 90% of the gap to the AC optimum (typically ~98%).
    assert trained < untrained
    assert (trained - optimum) < 0.1 * (untrained - optimum)

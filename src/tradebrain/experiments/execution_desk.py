"""The execution desk as an experiment cell: train, evaluate with the baselines on the same held-out
episodes, write the artifacts (model, reward stats, trade list, per-interval breakdown, report)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3.common.vec_env import VecNormalize

from tradebrain.backtest.bootstrap import mean_plus_variance
from tradebrain.backtest.execution import ExecutionOutcomes, ExecutionReport, evaluation_seeds, run_episodes
from tradebrain.core.config import with_updates
from tradebrain.desks.execution import ExecutionDeskConfig, analyze, baseline_policies, evaluate, train
from tradebrain.desks.runs import timed, training_note
from tradebrain.experiments.adapter import AGENT, CellOutput, DeskAdapter, ReportValue
from tradebrain.reports.execution import write_execution_report

POLICY_METRICS = ("shortfall_usd", "shortfall_bps", "shortfall_std_usd", "objective_usd")
AGENT_METRICS = ("savings_bps", "win_rate", "information_ratio")


def cell_metrics(report: ExecutionReport, agent: str) -> dict[str, float]:
    """Flat metrics of one cell: each policy's mean shortfall, its std and E+λV (the agent under the
    name `agent`), the agent's savings vs TWAP, and the agent-minus-baseline paired differences."""
    metrics: dict[str, float] = {}
    for name, values in report.metrics.items():
        label = AGENT if name == agent else name
        for key in POLICY_METRICS:
            metrics[f"{label}/{key}"] = values[key].value
    for key in AGENT_METRICS:
        metrics[f"{AGENT}/{key}"] = report.metrics[agent][key].value
    own = report.outcomes[agent].shortfall
    for name, outcome in report.outcomes.items():
        if name == agent:
            continue
        metrics[f"{AGENT}_minus_{name}/objective_usd"] = (
            metrics[f"{AGENT}/objective_usd"] - report.metrics[name]["objective_usd"].value
        )
        metrics[f"{AGENT}_minus_{name}/shortfall_usd"] = float(np.mean(own - outcome.shortfall))
    return metrics


def improvements(report: ExecutionReport, agent: str) -> dict[str, list[float]]:
    """Per held-out episode, how many dollars of shortfall the agent saved against each baseline."""
    own = report.outcomes[agent].shortfall
    return {name: (outcome.shortfall - own).tolist() for name, outcome in report.outcomes.items() if name != agent}


def write_trades(outcome: ExecutionOutcomes, path: Path) -> None:
    """The agent's trade list: every episode's shares traded in every interval, at the interval's mid."""
    traded = -np.diff(outcome.holdings, axis=1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["episode", "interval", "shares", "mid_at_start", "holdings_after"])
        for episode in range(traded.shape[0]):
            for k in range(traded.shape[1]):
                writer.writerow(
                    [episode, k, float(traded[episode, k]), float(outcome.mids[episode, k]),
                     float(outcome.holdings[episode, k + 1])]
                )  # fmt: skip


def write_daily(report: ExecutionReport, tau: float, path: Path) -> None:
    """Per interval (a trading day with the default tau = 1) and policy: mean shares traded and mean mid."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["policy", "interval", "start_days", "mean_shares", "mean_mid"])
        for name, outcome in report.outcomes.items():
            traded = -np.diff(outcome.holdings, axis=1).mean(axis=0)
            mids = outcome.mids.mean(axis=0)
            for k, shares in enumerate(traded):
                writer.writerow([name, k, k * tau, float(shares), float(mids[k])])


def run_execution_cell(config: ExecutionDeskConfig, out_dir: Path, write_report: bool) -> CellOutput:
    """Train the agent, evaluate it with the baselines on the held-out episodes, write the artifacts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    agent, seconds = timed(lambda: train(config, out_dir, progress=False))
    evaluation = config.evaluate
    policies = [*baseline_policies(config, evaluation.baselines, evaluation.vwap_profile), agent.policy]
    report = evaluate(config, policies, progress=False)
    name = agent.policy.name
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    write_trades(report.outcomes[name], out_dir / "trades.csv")
    write_daily(report, config.task.tau, out_dir / "daily.csv")
    if write_report:
        note = training_note(name, config.train.timesteps, config.train.seed, seconds, evaluation.episodes,
                             evaluation.seed_offset)  # fmt: skip
        write_execution_report(
            report, config, out_dir, title=config.name, agents=[name], analysis=analyze(config), notes=[note]
        )
    return CellOutput(cell_metrics(report, name), improvements(report, name))


def tune_execution_trial(
    config: ExecutionDeskConfig, eval_every: int, episodes: int, seed_offset: int, report: ReportValue
) -> float:
    """Train in chunks of `eval_every` steps; after each, E+λV of the agent on validation episodes is
    reported (the pruner may stop the trial). Returns the last value (lower is better)."""
    total = config.train.timesteps
    agent = train(with_updates(config, {"train.timesteps": min(eval_every, total)}), None, progress=False)
    seeds = evaluation_seeds(episodes, seed_offset)
    objective = mean_plus_variance(config.task.risk_aversion)
    while True:
        value = float(objective(run_episodes(config, agent.policy, seeds).shortfall))
        done = int(agent.model.num_timesteps)
        if report(done, value) or done >= total:
            return value
        env = agent.model.get_env()
        if isinstance(env, VecNormalize):  # training froze the reward statistics; keep updating them
            env.training = True
        agent.model.learn(min(eval_every, total - done), reset_num_timesteps=False)


def with_tensorboard(config: ExecutionDeskConfig, folder: Path) -> Any:
    """The config with SB3's TensorBoard logging into `folder` (the training itself is unchanged)."""
    hyperparams = {**config.train.hyperparams, "tensorboard_log": str(folder)}
    return with_updates(config, {"train.hyperparams": hyperparams})


EXECUTION = DeskAdapter(
    name="execution",
    config_cls=ExecutionDeskConfig,
    run_cell=run_execution_cell,
    tune_trial=tune_execution_trial,
    objective=f"{AGENT}/objective_usd",
    headline=(
        f"{AGENT}/objective_usd",
        f"{AGENT}_minus_AC-optimal/objective_usd",
        f"{AGENT}_minus_TWAP/objective_usd",
        f"{AGENT}/shortfall_bps",
    ),
    tensorboard=with_tensorboard,
    comparison=("objective_usd", "shortfall_usd"),
)

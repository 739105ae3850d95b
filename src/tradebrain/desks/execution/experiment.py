"""The execution desk as an experiment cell: train, evaluate with the baselines on the same held-out
episodes, write the artifacts (model, reward stats, trade list, per-interval breakdown, report)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tradebrain.core.io import atomic_open
from tradebrain.desks.contract import AGENT, CellOutput
from tradebrain.desks.execution.evaluate import ExecutionOutcomes, ExecutionReport
from tradebrain.desks.execution.report import write_execution_report
from tradebrain.desks.execution.study import ExecutionDeskConfig, analyze, baseline_policies, evaluate, train
from tradebrain.desks.runs import timed, training_note, write_config

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
    with atomic_open(path) as handle:
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
    with atomic_open(path) as handle:
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
    write_config(config, out_dir)
    write_trades(report.outcomes[name], out_dir / "trades.csv")
    write_daily(report, config.task.tau, out_dir / "daily.csv")
    if write_report:
        note = training_note(name, config.train.timesteps, config.train.seed, seconds, evaluation.episodes,
                             evaluation.seed_offset)  # fmt: skip
        write_execution_report(
            report, config, out_dir, title=config.name, agents=[name], analysis=analyze(config), notes=[note]
        )
    return CellOutput(cell_metrics(report, name), improvements(report, name))

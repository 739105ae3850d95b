"""The market-making desk as an experiment cell: train a quoting agent, evaluate it with the A-S
inventory strategy, the symmetric quoter and GLFT on the same held-out episodes, write the artifacts."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tradebrain.core.io import atomic_open
from tradebrain.desks.contract import AGENT, CellOutput
from tradebrain.desks.market_making.evaluate import MarketMakingOutcomes, MarketMakingReport
from tradebrain.desks.market_making.report import write_market_making_report
from tradebrain.desks.market_making.study import MarketMakingDeskConfig, baseline_policies, evaluate, train
from tradebrain.desks.runs import timed, training_note, write_config

POLICY_METRICS = ("pnl_mean", "pnl_std", "utility", "sharpe", "mean_spread", "inventory_std")


def cell_metrics(report: MarketMakingReport, agent: str) -> dict[str, float]:
    """Each policy's PnL mean and std, utility, Sharpe, spread and final inventory std (the agent as
    `agent`), and the agent-minus-baseline utility and mean PnL (paired by episode)."""
    metrics: dict[str, float] = {}
    for name, values in report.metrics.items():
        label = AGENT if name == agent else name
        metrics |= {f"{label}/{key}": values[key].value for key in POLICY_METRICS}
    own = report.outcomes[agent].pnl
    for name, outcome in report.outcomes.items():
        if name != agent:
            metrics[f"{AGENT}_minus_{name}/utility"] = metrics[f"{AGENT}/utility"] - metrics[f"{name}/utility"]
            metrics[f"{AGENT}_minus_{name}/pnl_mean"] = float(np.mean(own - outcome.pnl))
    return metrics


def write_quotes(outcome: MarketMakingOutcomes, path: Path) -> None:
    """The agent's quotes and fills: every episode's bid and ask distances, fills and inventory per step."""
    with atomic_open(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["episode", "step", "bid_offset", "ask_offset", "fills", "inventory_after", "mid_after"])
        for episode in range(outcome.fills.shape[0]):
            for step in range(outcome.fills.shape[1]):
                bid, ask = outcome.bid_offsets[episode, step], outcome.ask_offsets[episode, step]
                writer.writerow(
                    [episode, step, float(bid), float(ask), int(outcome.fills[episode, step]),
                     float(outcome.inventory[episode, step + 1]), float(outcome.mids[episode, step + 1])]
                )  # fmt: skip


def run_market_making_cell(config: MarketMakingDeskConfig, out_dir: Path, write_report: bool) -> CellOutput:
    """Train the agent, evaluate it with the baselines on the held-out episodes, write the artifacts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    agent, seconds = timed(lambda: train(config, out_dir, progress=False))
    evaluation = config.evaluate
    report = evaluate(config, [*baseline_policies(config, evaluation.baselines), agent.policy], progress=False)
    name = agent.policy.name
    write_config(config, out_dir)
    write_quotes(report.outcomes[name], out_dir / "trades.csv")
    if write_report:
        note = training_note(name, config.train.timesteps, config.train.seed, seconds, evaluation.episodes,
                             evaluation.seed_offset)  # fmt: skip
        write_market_making_report(report, out_dir, title=config.name, config=config, agents=[name], notes=[note])
    own = report.outcomes[name].pnl
    improvements = {b: (own - o.pnl).tolist() for b, o in report.outcomes.items() if b != name}
    return CellOutput(cell_metrics(report, name), improvements)

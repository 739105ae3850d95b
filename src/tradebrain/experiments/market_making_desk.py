"""The market-making desk as an experiment cell: train a quoting agent, evaluate it with the A-S
inventory strategy, the symmetric quoter and GLFT on the same held-out episodes, write the artifacts."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3.common.vec_env import VecNormalize

from tradebrain.backtest.execution import evaluation_seeds
from tradebrain.backtest.market_making import MarketMakingOutcomes, MarketMakingReport, utility_statistic
from tradebrain.backtest.market_making_runs import run_market_making
from tradebrain.core.config import with_updates
from tradebrain.desks.market_making_study import MarketMakingDeskConfig, baseline_policies, evaluate, train
from tradebrain.desks.runs import timed, training_note
from tradebrain.experiments.adapter import AGENT, CellOutput, DeskAdapter, ReportValue
from tradebrain.reports.market_making import write_market_making_report

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
    with path.open("w", newline="", encoding="utf-8") as handle:
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
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    write_quotes(report.outcomes[name], out_dir / "trades.csv")
    if write_report:
        note = training_note(name, config.train.timesteps, config.train.seed, seconds, evaluation.episodes,
                             evaluation.seed_offset)  # fmt: skip
        write_market_making_report(report, out_dir, title=config.name, config=config, agents=[name], notes=[note])
    own = report.outcomes[name].pnl
    improvements = {b: (own - o.pnl).tolist() for b, o in report.outcomes.items() if b != name}
    return CellOutput(cell_metrics(report, name), improvements)


def tune_market_making_trial(
    config: MarketMakingDeskConfig, eval_every: int, episodes: int, seed_offset: int, report: ReportValue
) -> float:
    """Train in chunks; after each, minus the utility on validation episodes is reported (lower is better)."""
    total = config.train.timesteps
    agent = train(with_updates(config, {"train.timesteps": min(eval_every, total)}), None, progress=False)
    seeds = evaluation_seeds(episodes, seed_offset)
    utility = utility_statistic(config.gamma)
    while True:
        value = -float(utility(run_market_making(config, agent.policy, seeds).pnl))
        done = int(agent.model.num_timesteps)
        if report(done, value) or done >= total:
            return value
        env = agent.model.get_env()
        if isinstance(env, VecNormalize):
            env.training = True
        agent.model.learn(min(eval_every, total - done), reset_num_timesteps=False)


def with_tensorboard(config: MarketMakingDeskConfig, folder: Path) -> Any:
    """The config with SB3's TensorBoard logging into `folder`."""
    return with_updates(config, {"train.hyperparams": {**config.train.hyperparams, "tensorboard_log": str(folder)}})


MARKET_MAKING = DeskAdapter(
    name="market-making",
    config_cls=MarketMakingDeskConfig,
    run_cell=run_market_making_cell,
    tune_trial=tune_market_making_trial,
    objective=f"{AGENT}/utility",
    headline=(
        f"{AGENT}/utility",
        f"{AGENT}_minus_A-S inventory/utility",
        f"{AGENT}_minus_symmetric/utility",
        f"{AGENT}/pnl_mean",
    ),
    tensorboard=with_tensorboard,
    comparison=("utility", "pnl_mean"),
)

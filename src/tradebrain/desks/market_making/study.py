"""Market-making desk study: train an agent to quote and compare it with the A-S inventory strategy,
the symmetric quoter and GLFT on the same held-out episodes (mean-variance utility with 95% CIs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from rich.progress import track

from tradebrain.core.console import stderr_console
from tradebrain.desks.market_making.baselines import avellaneda_stoikov, gueant_lehalle_fernandez_tapia, symmetric
from tradebrain.desks.market_making.config import MarketMakingEnvConfig
from tradebrain.desks.market_making.desk import MarketMakingDesk
from tradebrain.desks.market_making.evaluate import MarketMakingReport, measure_market_making
from tradebrain.desks.market_making.report import write_market_making_report
from tradebrain.desks.market_making.runs import run_market_making
from tradebrain.desks.market_making.vec_env import MarketMakingVecEnv
from tradebrain.desks.runs import HeldOutEvaluation, evaluation_seeds, run_summary, start_run, timed, training_note
from tradebrain.rl.policy import Policy
from tradebrain.rl.registry import get_algorithm
from tradebrain.rl.training import TrainConfig, TrainedAgent, train_agent

MM_BASELINES = MarketMakingDesk.baselines


class MarketMakingEvaluateConfig(HeldOutEvaluation):
    """Held-out evaluation: episodes, seeds, baselines and the GLFT inventory bound."""

    CHOICES = MM_BASELINES
    baselines: tuple[str, ...] = MM_BASELINES
    glft_bound: int = Field(30, ge=1, description="Q, the inventory bound GLFT quotes for")


class MarketMakingDeskConfig(MarketMakingEnvConfig):
    """A market-making study: the env (market, quote bounds, reward), training and evaluation.

    `gamma` is the risk aversion of the A-S and GLFT baselines and of the utility
    mean(PnL) - gamma/2 * var(PnL) every policy is judged by."""

    name: str = Field("market-making", pattern=r"^[A-Za-z0-9_.-]+$", description="run folder under runs/")
    gamma: float = Field(0.1, gt=0, description="risk aversion of the baselines and of the utility")
    train: TrainConfig = TrainConfig(timesteps=5_000_000)
    evaluate: MarketMakingEvaluateConfig = MarketMakingEvaluateConfig()


def algorithm_defaults(config: MarketMakingDeskConfig) -> dict[str, Any]:
    """Hyperparameters that work here: PPO over many parallel whole episodes, undiscounted (the
    utility is over the whole horizon); SAC on a few."""
    algo = get_algorithm(config.train.algo).name
    get_algorithm(algo).check_action_kind("continuous")
    if algo == "ppo":
        return {
            "n_envs": 256, "n_steps": 50, "batch_size": 3200, "n_epochs": 10, "gamma": 1.0, "gae_lambda": 0.95,
            "learning_rate": 5e-4, "ent_coef": 0.0, "policy_kwargs": {"log_std_init": -1.0},
        }  # fmt: skip
    return {"n_envs": 8, "gamma": 0.999, "learning_starts": 5_000, "batch_size": 256, "gradient_steps": 2}


def baseline_policies(config: MarketMakingDeskConfig, names: Sequence[str] = MM_BASELINES) -> list[Policy]:
    """The named baselines for this market and risk aversion."""
    factories = {
        "A-S inventory": lambda: avellaneda_stoikov(config, config.gamma),
        "symmetric": lambda: symmetric(config, config.gamma),
        "GLFT": lambda: gueant_lehalle_fernandez_tapia(config, config.gamma, config.evaluate.glft_bound),
    }
    return [factories[name]() for name in names]


def train(config: MarketMakingDeskConfig, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
    """Train the configured algorithm on the batched market-making env."""
    return train_agent(
        lambda n: MarketMakingVecEnv(config, num_envs=n),
        "continuous",
        config.train,
        algorithm_defaults(config),
        out_dir=out_dir,
        progress=progress,
        term_keys=tuple(f"episode_reward_{term}" for term in ("pnl", "inventory_penalty", "terminal_penalty")),
        run_config=config,
    )


def evaluate(config: MarketMakingDeskConfig, policies: Sequence[Policy], progress: bool = True) -> MarketMakingReport:
    """Every policy on the same held-out episodes, measured with 95% bootstrap intervals."""
    seeds = evaluation_seeds(config.evaluate.episodes, config.evaluate.seed_offset)
    outcomes = [
        run_market_making(config, policy, seeds)
        for policy in track(policies, "evaluating", disable=not progress, transient=True, console=stderr_console)
    ]
    return measure_market_making(outcomes, config.gamma, seed=config.evaluate.bootstrap_seed)


@dataclass(frozen=True)
class MarketMakingStudy:
    """What a study produced and where it wrote it."""

    config: MarketMakingDeskConfig
    report: MarketMakingReport
    run_dir: Path
    report_path: Path
    model_path: Path | None
    train_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary for scripts."""
        head = run_summary(self.config.name, self.run_dir, self.report_path, self.model_path, self.train_seconds)
        return {**head, **self.report.as_dict()}


def run_study(config: MarketMakingDeskConfig, runs_root: Path, progress: bool = True) -> MarketMakingStudy:
    """Train, evaluate with the baselines on the same held-out episodes, and write the report."""
    run_dir = start_run(config, config.name, runs_root)
    agent, train_seconds = timed(lambda: train(config, run_dir, progress=progress))
    report = evaluate(config, [*baseline_policies(config, config.evaluate.baselines), agent.policy], progress)
    evaluation = config.evaluate
    notes = [
        training_note(agent.policy.name, config.train.timesteps, config.train.seed, train_seconds,
                      evaluation.episodes, evaluation.seed_offset)
    ]  # fmt: skip
    path = write_market_making_report(
        report, run_dir, title=config.name, config=config, agents=[agent.policy.name], notes=notes
    )
    return MarketMakingStudy(config, report, run_dir, path, agent.path, train_seconds)

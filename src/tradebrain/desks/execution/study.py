"""Execution desk: train an agent on a liquidation market and compare it with TWAP, VWAP, sell-now
and the Almgren-Chriss optimum on the same held-out episodes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, model_validator
from rich.progress import track

from tradebrain.core.console import stderr_console
from tradebrain.desks.execution.almgren_chriss import (
    immediate_holdings,
    kappa_approx,
    kappa_exact,
    optimal_holdings,
    schedule_moments,
    twap_holdings,
)
from tradebrain.desks.execution.baselines import almgren_chriss, sell_now, twap, u_shaped_volume, vwap
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.desk import ExecutionDesk
from tradebrain.desks.execution.evaluate import ExecutionReport, measure, run_episodes
from tradebrain.desks.execution.report import write_execution_report
from tradebrain.desks.execution.vec_env import ExecutionVecEnv
from tradebrain.desks.runs import HeldOutEvaluation, evaluation_seeds, run_summary, start_run, timed, training_note
from tradebrain.rl.policy import Policy
from tradebrain.rl.registry import get_algorithm
from tradebrain.rl.training import TrainConfig, TrainedAgent, train_agent

BASELINES = ExecutionDesk.baselines


class EvaluateConfig(HeldOutEvaluation):
    """Held-out evaluation: episodes, seeds, baselines, and the volume profile VWAP follows."""

    CHOICES = BASELINES
    baselines: tuple[str, ...] = BASELINES
    vwap_profile: tuple[float, ...] | None = Field(
        None, description="expected volume per interval for VWAP (one value per step); None: U-shaped"
    )


class ExecutionDeskConfig(ExecutionEnvConfig):
    """An execution study: the env (market, task, actions), training and evaluation."""

    name: str = Field("execution", pattern=r"^[A-Za-z0-9_.-]+$", description="run folder name under runs/")
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()

    @model_validator(mode="after")
    def _algorithm_fits_the_actions(self) -> ExecutionDeskConfig:
        get_algorithm(self.train.algo).check_action_kind(self.action)
        return self

    @model_validator(mode="after")
    def _vwap_profile_fits(self) -> ExecutionDeskConfig:
        profile = self.evaluate.vwap_profile
        if profile is not None and len(profile) != self.task.steps:
            raise ValueError(
                f"evaluate.vwap_profile has {len(profile)} values but task.steps is {self.task.steps}: "
                "give one expected volume per interval"
            )
        return self


def algorithm_defaults(config: ExecutionDeskConfig) -> dict[str, Any]:
    """Hyperparameters that work on this desk: an undiscounted episode (gamma = 1), since the
    return is the whole shortfall; PPO on many parallel episodes, SAC and DQN on a few."""
    algo = get_algorithm(config.train.algo).name
    steps = config.task.steps
    if algo == "ppo":
        defaults: dict[str, Any] = {
            "n_envs": 512, "n_steps": max(2 * steps, 16), "batch_size": 2048, "n_epochs": 10,
            "gamma": 1.0, "gae_lambda": 0.95, "learning_rate": 3e-4, "ent_coef": 0.0,
        }  # fmt: skip
        if config.action == "continuous":
            defaults["policy_kwargs"] = {"log_std_init": -1.0}
        return defaults
    common = {"n_envs": 8, "gamma": 1.0, "learning_starts": 2_000, "batch_size": 256, "train_freq": 1}
    if algo == "sac":
        return {**common, "gradient_steps": 2, "learning_rate": 3e-4}
    return {
        **common, "gradient_steps": 2, "learning_rate": 5e-4, "buffer_size": 200_000,
        "exploration_fraction": 0.3, "exploration_final_eps": 0.02, "target_update_interval": 2_000,
    }  # fmt: skip


def baseline_policies(
    config: ExecutionEnvConfig, names: Sequence[str] = BASELINES, vwap_profile: Sequence[float] | None = None
) -> list[Policy]:
    """The named baselines, built for this market and task (VWAP on `vwap_profile`, U-shaped if None)."""
    profile = np.asarray(vwap_profile) if vwap_profile is not None else u_shaped_volume(config.task.steps)
    factories = {
        "TWAP": lambda: twap(config),
        "AC-optimal": lambda: almgren_chriss(config),
        "VWAP": lambda: vwap(config, profile),
        "sell-now": lambda: sell_now(config),
    }
    unknown = [name for name in names if name not in factories]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(factories)}")
    return [factories[name]() for name in names]


def train(config: ExecutionDeskConfig, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
    """Train the configured algorithm on the batched execution env."""
    return train_agent(
        lambda n: ExecutionVecEnv(config, num_envs=n),
        config.action,
        config.train,
        algorithm_defaults(config),
        out_dir=out_dir,
        progress=progress,
        term_keys=("episode_reward_shortfall", "episode_reward_risk"),
        run_config=config,
    )


def evaluate(config: ExecutionDeskConfig, policies: Sequence[Policy], progress: bool = True) -> ExecutionReport:
    """Run every policy on the same held-out episodes and measure them (95% bootstrap intervals)."""
    seeds = evaluation_seeds(config.evaluate.episodes, config.evaluate.seed_offset)
    outcomes = [
        run_episodes(config, policy, seeds)
        for policy in track(
            policies, description="evaluating", disable=not progress, transient=True, console=stderr_console
        )
    ]
    return measure(outcomes, config, seed=config.evaluate.bootstrap_seed)


@dataclass(frozen=True)
class ScheduleAnalysis:
    """Closed-form view of one static schedule."""

    name: str
    holdings: list[float]
    expected: float
    variance: float
    objective: float


def analyze(config: ExecutionEnvConfig, risk_aversion: float | None = None) -> dict[str, Any]:
    """kappa (exact and approximate), and holdings, E, V and E + lambda*V of the AC-optimal schedule,
    TWAP and sell-now, from the closed forms."""
    lam = config.task.risk_aversion if risk_aversion is None else risk_aversion
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"--lambda must be a finite number >= 0, got {lam}")
    market, task = config.market, config.task
    schedules = {
        "AC-optimal": optimal_holdings(market, task, lam),
        "TWAP": twap_holdings(task),
        "sell-now": immediate_holdings(task),
    }
    analyses = []
    for name, holdings in schedules.items():
        moments = schedule_moments(market, task, holdings)
        analyses.append(
            ScheduleAnalysis(name, holdings.tolist(), moments.expected, moments.variance, moments.objective(lam))
        )
    return {
        "risk_aversion": lam,
        "kappa": kappa_exact(market, task, lam),
        "kappa_continuous_approximation": kappa_approx(market, task, lam),
        "tau": task.tau,
        "schedules": {a.name: {k: v for k, v in a.__dict__.items() if k != "name"} for a in analyses},
    }


@dataclass(frozen=True)
class StudyResult:
    """What a desk study produced and where it wrote it."""

    config: ExecutionDeskConfig
    report: ExecutionReport
    analysis: dict[str, Any]
    run_dir: Path
    report_path: Path
    model_path: Path | None
    train_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary for scripts."""
        head = run_summary(
            self.config.name, self.run_dir, self.report_path, self.model_path, self.train_seconds,
            analysis=self.analysis,
        )  # fmt: skip
        return {**head, **self.report.as_dict()}


def run_study(config: ExecutionDeskConfig, runs_root: Path, progress: bool = True) -> StudyResult:
    """Train an agent, evaluate it with the baselines on the same held-out episodes, write the report."""
    run_dir = start_run(config, config.name, runs_root)
    agent, train_seconds = timed(lambda: train(config, run_dir, progress=progress))
    policies = [*baseline_policies(config, config.evaluate.baselines, config.evaluate.vwap_profile), agent.policy]
    report = evaluate(config, policies, progress=progress)
    analysis = analyze(config)
    evaluation = config.evaluate
    notes = [
        training_note(agent.policy.name, config.train.timesteps, config.train.seed, train_seconds,
                      evaluation.episodes, evaluation.seed_offset)
    ]  # fmt: skip
    report_path = write_execution_report(
        report, config, run_dir, title=config.name, agents=[agent.policy.name], analysis=analysis, notes=notes
    )
    return StudyResult(config, report, analysis, run_dir, report_path, agent.path, train_seconds)

"""The toy desk's research pipeline: config, baselines, training, paired evaluation, demo, experiment cell.

Every policy (the agent and the baselines) runs through the same `CoinCore` on the same held-out
seeds, so each episode's coin and flips are identical across policies and differences are paired.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import Field, model_validator

from toy_desk.coin import CoinCore, GameConfig, action_space, kelly_fraction, observation_space, optimal_growth
from tradebrain.backtest.bootstrap import Estimate, bootstrap, mean, paired_difference
from tradebrain.core.config import StrictModel
from tradebrain.desks.contract import AGENT, CellOutput
from tradebrain.desks.runs import evaluation_seeds, run_summary, start_run, timed, training_note
from tradebrain.reports.common import config_sections, finite_json
from tradebrain.reports.render import render
from tradebrain.rl.policy import ActionKind, Policy
from tradebrain.rl.registry import get_algorithm
from tradebrain.rl.training import TrainConfig, TrainedAgent, train_agent
from tradebrain.rl.vec_env import BatchedVecEnv

BASELINES = ("Kelly", "half-Kelly", "all-in")
RUIN = float(np.log(0.1))
"""An episode ends in ruin when it loses 90% of the starting wealth or more."""
TEMPLATES = Path(__file__).parent / "templates"
METRIC_LABELS = {
    "growth": "log growth",
    "regret": "regret vs Kelly",
    "median_wealth": "median wealth ×",
    "ruin_rate": "ruin rate",
    "agent_minus": "agent − policy log growth",
}


class EvaluateConfig(StrictModel):
    """Held-out evaluation: how many episodes and from which seed (training seeds stay below it)."""

    episodes: int = Field(1000, ge=10, description="held-out episodes per policy (the same seeds for all)")
    seed_offset: int = Field(1_000_000, ge=0, description="first evaluation seed")
    bootstrap_seed: int = 0


class ToyDeskConfig(StrictModel):
    """A coin-betting study: the game, the training and the evaluation."""

    name: str = Field("toy", pattern=r"^[A-Za-z0-9_.-]+$", description="run folder name under runs/")
    game: GameConfig = GameConfig()
    train: TrainConfig = TrainConfig(timesteps=50_000)
    evaluate: EvaluateConfig = EvaluateConfig()

    @model_validator(mode="after")
    def _continuous_algorithm(self) -> ToyDeskConfig:
        if "continuous" not in get_algorithm(self.train.algo).action_kinds:
            raise ValueError(f"train.algo '{self.train.algo}' takes discrete actions; the bet is continuous: use ppo")
        return self


# ------------------------------------------------------------------------------------- policies


@dataclass
class StakeRule:
    """A baseline Policy: the stake as a function of the observed win probability."""

    name: str
    stake: Callable[[np.ndarray], np.ndarray]
    action_kind: ActionKind = "continuous"

    def act(self, observations: np.ndarray, action_masks: np.ndarray | None = None) -> np.ndarray:
        """One stake per episode, shape (episodes, 1)."""
        return np.asarray(self.stake(np.asarray(observations)[:, 0]), dtype=np.float32).reshape(-1, 1)


def baseline_policies() -> list[Policy]:
    """Kelly (2p - 1, the closed-form optimum of the expected log growth), half-Kelly, and all-in."""
    return [
        StakeRule("Kelly", kelly_fraction),
        StakeRule("half-Kelly", lambda p: kelly_fraction(p) / 2),
        StakeRule("all-in", np.ones_like),
    ]


# ------------------------------------------------------------------------------------- training


class CoinVecEnv(BatchedVecEnv):
    """`num_envs` coin-betting episodes as one stable-baselines3 VecEnv; `last_episodes["log_growth"]`."""

    def __init__(self, game: GameConfig, num_envs: int) -> None:
        core = CoinCore(game, num_envs)
        super().__init__(core, num_envs, observation_space(), action_space())
        self.core: CoinCore = core

    def finished_episodes(self) -> dict[str, np.ndarray]:
        """Each finished episode's log growth of wealth."""
        return {"log_growth": self.core.log_wealth.copy()}


def algorithm_defaults(config: ToyDeskConfig) -> dict[str, Any]:
    """Hyperparameters that work here: an undiscounted episode (its return is the log growth)."""
    if get_algorithm(config.train.algo).name == "sac":
        return {"n_envs": 4, "gamma": 1.0, "learning_starts": 1_000, "batch_size": 256}
    return {
        "n_envs": 16, "n_steps": 64, "batch_size": 256, "n_epochs": 10, "gamma": 1.0, "gae_lambda": 0.95,
        "learning_rate": 1e-3, "ent_coef": 0.0, "policy_kwargs": {"log_std_init": -1.0},
    }  # fmt: skip


def train(config: ToyDeskConfig, out_dir: Path | None, progress: bool = True) -> TrainedAgent:
    """Train the configured algorithm on the batched game (saved under `out_dir` when given)."""
    return train_agent(
        lambda n: CoinVecEnv(config.game, n), "continuous", config.train, algorithm_defaults(config),
        out_dir=out_dir, progress=progress, term_keys=("log_growth",),
    )  # fmt: skip


# ----------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Outcomes:
    """One policy's held-out episodes: realised log growth, and the Kelly optimum's expected log growth."""

    name: str
    growth: np.ndarray
    optimum: np.ndarray


def run_episodes(game: GameConfig, policy: Policy, seeds: Sequence[int]) -> Outcomes:
    """Play one episode per seed with `policy`, all together through the game's core."""
    core = CoinCore(game, len(seeds))
    observations = core.reset(seeds)
    for _ in range(game.rounds):
        core.step(policy.act(observations.copy()))
        observations = core.observation
    return Outcomes(policy.name, core.log_wealth.copy(), optimal_growth(core.p, game))


def _median_wealth(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.exp(np.median(sample, axis=axis)))


def _ruin_rate(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(sample < RUIN, axis=axis))


@dataclass(frozen=True)
class ToyReport:
    """Every policy's metrics and the agent's paired differences, each with a 95% bootstrap interval."""

    name: str
    agent: str
    rounds: int
    outcomes: dict[str, Outcomes]
    metrics: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    agent_minus: dict[str, Estimate] = field(default_factory=dict)
    """Baseline -> mean over episodes of the agent's log growth minus the baseline's (paired)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: {policies: {policy: {metric: {value, low, high}}}, agent_minus: {baseline: ...}}."""
        return {
            "name": self.name, "agent": self.agent, "rounds": self.rounds,
            "episodes": len(self.outcomes[self.agent].growth),
            "policies": {name: {k: v.as_dict() for k, v in values.items()} for name, values in self.metrics.items()},
            "agent_minus": {name: {"growth": estimate.as_dict()} for name, estimate in self.agent_minus.items()},
        }  # fmt: skip


def evaluate(config: ToyDeskConfig, policies: Sequence[Policy], agent: str) -> ToyReport:
    """Run every policy on the same held-out episodes and measure them against each other."""
    seeds = evaluation_seeds(config.evaluate.episodes, config.evaluate.seed_offset)
    outcomes = {policy.name: run_episodes(config.game, policy, seeds) for policy in policies}
    seed = config.evaluate.bootstrap_seed
    report = ToyReport(config.name, agent, config.game.rounds, outcomes)
    for name, outcome in outcomes.items():
        report.metrics[name] = {
            "growth": bootstrap(mean, outcome.growth, seed=seed),
            "regret": bootstrap(mean, outcome.optimum - outcome.growth, seed=seed),
            "median_wealth": bootstrap(_median_wealth, outcome.growth, seed=seed),
            "ruin_rate": bootstrap(_ruin_rate, outcome.growth, seed=seed),
        }
        if name != agent:
            growth = outcomes[agent].growth
            report.agent_minus[name] = bootstrap(paired_difference(mean), growth, outcome.growth, seed=seed)
    return report


def write_results(report: ToyReport, config: ToyDeskConfig, out_dir: Path, notes: Sequence[str] = ()) -> Path:
    """metrics.json and a self-contained report.html (the shared base page) in `out_dir`; the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(finite_json(report.as_dict()), indent=2), encoding="utf-8")

    def cell(estimate: Estimate | None) -> dict[str, str]:
        if estimate is None:
            return {"value": "—", "interval": ""}
        return {"value": f"{estimate.value:.3f}", "interval": f"[{estimate.low:.3f}, {estimate.high:.3f}]"}

    rows = [
        {"name": name, "cells": [cell(e) for e in [*values.values(), report.agent_minus.get(name)]]}
        for name, values in report.metrics.items()
    ]
    html = render(
        "toy.html", TEMPLATES, name=report.name, date=date.today().isoformat(), rounds=report.rounds,
        episodes=len(report.outcomes[report.agent].growth), labels=METRIC_LABELS, rows=rows, agents=[report.agent],
        config_sections=config_sections(config), notes=list(notes),
    )  # fmt: skip
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- demo and cells


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced and where it wrote it."""

    report: ToyReport
    run_dir: Path
    report_path: Path
    model_path: Path | None
    train_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the run's files, then every policy's metrics with intervals."""
        head = run_summary(self.report.name, self.run_dir, self.report_path, self.model_path, self.train_seconds)
        return {**head, **self.report.as_dict()}


def _note(config: ToyDeskConfig, agent: str, seconds: float) -> str:
    evaluation = config.evaluate
    return training_note(agent, config.train.timesteps, config.train.seed, seconds, evaluation.episodes,
                         evaluation.seed_offset)  # fmt: skip


def run_study(config: ToyDeskConfig, runs_root: Path, progress: bool = True) -> DemoResult:
    """Train, evaluate against the baselines on the held-out episodes, write runs_root/<name>/report.html."""
    run_dir = start_run(config, config.name, runs_root)
    agent, seconds = timed(lambda: train(config, run_dir, progress=progress))
    report = evaluate(config, [*baseline_policies(), agent.policy], agent.policy.name)
    path = write_results(report, config, run_dir, [_note(config, agent.policy.name, seconds)])
    return DemoResult(report, run_dir, path, agent.path, seconds)


def cell_metrics(report: ToyReport) -> dict[str, float]:
    """`<policy>/<metric>` (the agent as `agent`) and `agent_minus_<baseline>/<metric>` for the desk's
    comparison metrics (regret, ruin rate) and the log growth."""
    metrics = {
        f"{AGENT if name == report.agent else name}/{key}": estimate.value
        for name, values in report.metrics.items()
        for key, estimate in values.items()
    }
    for name, estimate in report.agent_minus.items():
        metrics[f"{AGENT}_minus_{name}/growth"] = estimate.value
        for key in ("regret", "ruin_rate"):
            metrics[f"{AGENT}_minus_{name}/{key}"] = metrics[f"{AGENT}/{key}"] - metrics[f"{name}/{key}"]
    return metrics


def run_cell(config: ToyDeskConfig, out_dir: Path, write_report: bool) -> CellOutput:
    """One experiment cell: train, evaluate, write config.yaml and metrics.json (and report.html)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    agent, seconds = timed(lambda: train(config, out_dir, progress=False))
    name = agent.policy.name
    report = evaluate(config, [*baseline_policies(), agent.policy], name)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    if write_report:
        write_results(report, config, out_dir, [_note(config, name, seconds)])
    else:
        (out_dir / "metrics.json").write_text(json.dumps(finite_json(report.as_dict()), indent=2))
    own = report.outcomes[name].growth
    improvements = {other: (own - out.growth).tolist() for other, out in report.outcomes.items() if other != name}
    return CellOutput(cell_metrics(report), improvements)

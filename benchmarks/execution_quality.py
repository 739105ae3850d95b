"""Execution quality: does PPO reach the Almgren-Chriss optimum, and beat it where AC is not optimal?

Why: these are the execution desk's done-when numbers. (a) On the classic AC market
(`configs/execution.yaml`) the AC schedule is optimal, so the agent's E + lambda*V should be within
5% of AC's. (b) On a mean-reverting market (`configs/execution-ou.yaml`) a static schedule is not
optimal, so the agent should beat TWAP and AC with 95% confidence (the whole interval of the paired
objective difference below zero). Each study trains with its configured budget for several seeds
and evaluates on the configured held-out episodes with 95% bootstrap intervals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import stats

from benchmarks.paths import CONFIGS, shown
from tradebrain.backtest.bootstrap import Estimate
from tradebrain.core.config import load_config, with_updates
from tradebrain.desks.execution.study import ExecutionDeskConfig, baseline_policies, evaluate, train

GAP_TARGET_PCT = 5.0
BASELINES = ("TWAP", "AC-optimal")
Kind = Literal["match-AC", "beat-baselines"]


@dataclass(frozen=True)
class Study:
    """A config and what the agent must achieve on it."""

    key: str
    path: Path
    kind: Kind
    target: str


STUDIES = (
    Study("ac", CONFIGS / "execution.yaml", "match-AC", f"E+λV within {GAP_TARGET_PCT:g}% of AC-optimal"),
    Study(
        "ou",
        CONFIGS / "execution-ou.yaml",
        "beat-baselines",
        "E+λV below TWAP and AC-optimal, 95% CI entirely below zero",
    ),
)


@dataclass(frozen=True)
class SeedResult:
    """One training seed evaluated on the held-out episodes."""

    seed: int
    timesteps: int
    train_seconds: float
    eval_seconds: float
    objective_usd: dict[str, Estimate]
    """E + lambda*V in $ of the agent and each baseline."""
    minus_twap: Estimate
    minus_ac: Estimate
    """Agent objective minus AC's, paired by episode, $."""
    gap_pct: Estimate
    """minus_ac as % of AC's objective (AC's objective taken as the fixed scale)."""
    passed: bool


@dataclass(frozen=True)
class StudyResult:
    """A study over its seeds: per seed, the mean gap to AC and the verdict."""

    key: str
    name: str
    config: str
    kind: Kind
    target: str
    agent: str
    episodes: int
    seeds: list[SeedResult]
    mean_gap_pct: float
    mean_gap_ci: tuple[float, float] | None
    """95% Student-t interval of the mean gap over training seeds (None with one seed)."""
    passed: bool


def _scaled(estimate: Estimate, scale: float) -> Estimate:
    return Estimate(estimate.value * scale, estimate.low * scale, estimate.high * scale)


def run_seed(config: ExecutionDeskConfig, kind: Kind, seed: int) -> tuple[str, SeedResult]:
    """Train with `seed`, evaluate against TWAP and AC on the held-out episodes, judge the target."""
    config = with_updates(config, {"train.seed": seed})
    start = time.perf_counter()
    trained = train(config, None, progress=False)
    trained_at = time.perf_counter()
    report = evaluate(config, [trained.policy, *baseline_policies(config, BASELINES)], progress=False)
    agent = trained.policy.name
    metrics = report.metrics[agent]
    ac_objective = report.metrics["AC-optimal"]["objective_usd"].value
    minus_twap, minus_ac = metrics["objective_minus_TWAP"], metrics["objective_minus_AC-optimal"]
    gap = _scaled(minus_ac, 100.0 / abs(ac_objective))
    beats_both = minus_twap.high < 0 and minus_ac.high < 0
    passed = gap.value <= GAP_TARGET_PCT if kind == "match-AC" else beats_both
    result = SeedResult(
        seed=seed,
        timesteps=trained.model.num_timesteps,
        train_seconds=trained_at - start,
        eval_seconds=time.perf_counter() - trained_at,
        objective_usd={name: values["objective_usd"] for name, values in report.metrics.items()},
        minus_twap=minus_twap,
        minus_ac=minus_ac,
        gap_pct=gap,
        passed=passed,
    )
    return agent, result


def run_study(
    study: Study,
    seeds: Sequence[int],
    timesteps_scale: float = 1.0,
    episodes: int | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> StudyResult:
    """Every seed of one study; `timesteps_scale` and `episodes` shrink it for a smoke run."""
    notify = on_progress or (lambda _message: None)
    config = load_config(ExecutionDeskConfig, study.path, environ={})
    updates: dict[str, object] = {"train.timesteps": max(int(config.train.timesteps * timesteps_scale), 1)}
    if episodes is not None:
        updates["evaluate.episodes"] = episodes
    config = with_updates(config, updates)
    agent, results = "agent", []
    for seed in seeds:
        notify(f"{config.name}: seed {seed}, training {config.train.timesteps:,} steps, then evaluating")
        agent, result = run_seed(config, study.kind, seed)
        results.append(result)
    gaps = np.array([r.gap_pct.value for r in results])
    mean_gap = float(gaps.mean())
    spread = None
    if len(gaps) > 1:
        half = float(stats.t.ppf(0.975, len(gaps) - 1) * gaps.std(ddof=1) / np.sqrt(len(gaps)))
        spread = (mean_gap - half, mean_gap + half)
    passed = mean_gap <= GAP_TARGET_PCT if study.kind == "match-AC" else all(r.passed for r in results)
    return StudyResult(
        study.key,
        config.name,
        shown(study.path),
        study.kind,
        study.target,
        agent,
        config.evaluate.episodes,
        results,
        mean_gap,
        spread,
        passed,
    )


def run_quality(
    seeds: Sequence[int] = (0, 1, 2),
    timesteps_scale: float = 1.0,
    episodes: int | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> list[StudyResult]:
    """Both studies: (a) match AC on the AC market, (b) beat TWAP and AC on the OU market."""
    return [run_study(study, seeds, timesteps_scale, episodes, on_progress) for study in STUDIES]

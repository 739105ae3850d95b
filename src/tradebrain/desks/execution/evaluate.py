"""Run execution Policies on the same held-out episodes and measure them against TWAP and each other."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tradebrain.backtest.bootstrap import (
    Estimate,
    bootstrap,
    information_ratio,
    mean,
    mean_plus_variance,
    paired_difference,
    standard_deviation,
    value_at_risk,
    win_rate,
)
from tradebrain.desks.execution.config import ExecutionEnvConfig
from tradebrain.desks.execution.core import ExecutionCore
from tradebrain.rl.policy import Policy


@dataclass(frozen=True)
class ExecutionOutcomes:
    """Per-episode results of one policy on held-out episodes."""

    name: str
    shortfall: np.ndarray
    """Implementation shortfall, $ (arrival value - proceeds for a sale)."""
    holdings: np.ndarray
    """Shares held x_0..x_N, shape (episodes, steps + 1)."""
    mids: np.ndarray
    """Mid prices at t_0..t_N (with the policy's own permanent impact), shape (episodes, steps + 1)."""


def run_episodes(
    config: ExecutionEnvConfig, policy: Policy, seeds: Sequence[int], batch: int = 4096
) -> ExecutionOutcomes:
    """Run `policy` on one episode per seed, in batches, through the env's own core (no train/eval skew)."""
    env_config = config.model_copy(update={"action": policy.action_kind})
    steps, lookback = config.task.steps, config.market.lookback
    shortfall, holdings, mids = [], [], []
    for start in range(0, len(seeds), batch):
        chunk = list(seeds[start : start + batch])
        core = ExecutionCore(env_config, episodes=len(chunk))
        observations = core.reset(chunk)
        path = np.empty((len(chunk), steps + 1))
        path[:, 0] = core.simulator.inventory
        for step in range(steps):
            core.step(policy.act(observations.copy()))
            path[:, step + 1] = core.simulator.inventory
        shortfall.append(core.simulator.implementation_shortfall().copy())
        holdings.append(path)
        mids.append(core.simulator.mids[:, lookback:].copy())
    return ExecutionOutcomes(policy.name, np.concatenate(shortfall), np.concatenate(holdings), np.concatenate(mids))


@dataclass(frozen=True)
class ExecutionReport:
    """Metrics of every policy, each an Estimate with its 95% bootstrap interval."""

    reference: str
    risk_aversion: float
    metrics: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    outcomes: dict[str, ExecutionOutcomes] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: {policy: {metric: {value, low, high}}}."""
        return {
            "reference": self.reference,
            "risk_aversion": self.risk_aversion,
            "episodes": len(next(iter(self.outcomes.values())).shortfall) if self.outcomes else 0,
            "policies": {
                name: {metric: estimate.as_dict() for metric, estimate in values.items()}
                for name, values in self.metrics.items()
            },
        }


METRIC_LABELS = {
    "shortfall_usd": "shortfall $",
    "shortfall_bps": "shortfall bps",
    "shortfall_std_usd": "std $",
    "objective_usd": "E+λV $",
    "savings_bps": "savings vs TWAP bps",
    "information_ratio": "IR of savings",
    "win_rate": "win rate vs TWAP",
    "var5_savings_usd": "5% VaR of savings $",
}


def measure(
    outcomes: Iterable[ExecutionOutcomes],
    config: ExecutionEnvConfig,
    reference: str = "TWAP",
    compare_to: Sequence[str] = ("TWAP", "AC-optimal"),
    seed: int = 0,
) -> ExecutionReport:
    """Per-policy metrics with 95% bootstrap intervals; savings are paired against `reference`.

    savings = reference shortfall - policy shortfall on the same episode (positive = cheaper);
    objective = mean shortfall + lambda * variance of shortfall over the episodes;
    `objective_minus_<name>` = this policy's objective minus that policy's, paired by episode.
    """
    by_name = {outcome.name: outcome for outcome in outcomes}
    if reference not in by_name:
        raise ValueError(f"reference policy '{reference}' was not run; run it alongside ({sorted(by_name)})")
    lam = config.task.risk_aversion
    bps_per_dollar = 1e4 / (config.task.shares * config.market.s0)
    objective = mean_plus_variance(lam)
    report = ExecutionReport(reference=reference, risk_aversion=lam, outcomes=by_name)
    base = by_name[reference].shortfall
    for name, outcome in by_name.items():
        cost = outcome.shortfall
        savings = base - cost
        metrics = {
            "shortfall_usd": bootstrap(mean, cost, seed=seed),
            "shortfall_bps": bootstrap(mean, cost * bps_per_dollar, seed=seed),
            "shortfall_std_usd": bootstrap(standard_deviation, cost, seed=seed),
            "objective_usd": bootstrap(objective, cost, seed=seed),
        }
        if name != reference:  # savings of the reference against itself are zero by definition
            metrics |= {
                "savings_usd": bootstrap(mean, savings, seed=seed),
                "savings_bps": bootstrap(mean, savings * bps_per_dollar, seed=seed),
                "information_ratio": bootstrap(information_ratio, savings, seed=seed),
                "win_rate": bootstrap(win_rate, savings, seed=seed),
                "var5_savings_usd": bootstrap(value_at_risk(0.05), savings, seed=seed),
            }
        for other in compare_to:
            if other in by_name and other != name:
                metrics[f"objective_minus_{other}"] = bootstrap(
                    paired_difference(objective), cost, by_name[other].shortfall, seed=seed
                )
        report.metrics[name] = metrics
    return report

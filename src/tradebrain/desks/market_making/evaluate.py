"""Measure market-making policies run on the same seeded episodes, with 95% bootstrap intervals.

Mirrors backtest.execution: per-episode outcomes in, an Estimate per (policy, metric) out, and
paired differences of the mean-variance utility against the A-S inventory and symmetric strategies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tradebrain.backtest.bootstrap import (
    Estimate,
    Statistic,
    bootstrap,
    mean,
    mean_plus_variance,
    paired_difference,
    standard_deviation,
)


@dataclass(frozen=True)
class MarketMakingOutcomes:
    """Per-episode paths of one quoting policy on seeded episodes (every policy on the same seeds)."""

    name: str
    pnl: np.ndarray
    """Terminal profit, $: wealth at T minus initial wealth, inventory marked at the mid, shape (episodes,)."""
    inventory: np.ndarray
    """Inventory q_0..q_N, units, shape (episodes, steps + 1)."""
    mids: np.ndarray
    """Mid prices s_0..s_N, $, shape (episodes, steps + 1)."""
    bid_offsets: np.ndarray
    """Quoted bid distance below the mid at each step, $, NaN where no bid was quoted; (episodes, steps)."""
    ask_offsets: np.ndarray
    """Quoted ask distance above the mid at each step, $, NaN where no ask was quoted; (episodes, steps)."""
    fills: np.ndarray
    """Number of fills (0, 1 or 2) in each step, shape (episodes, steps)."""
    dt: float
    """Length of a step in the model's time units."""

    @property
    def horizon(self) -> float:
        """steps * dt: the length of an episode."""
        return float(self.fills.shape[1] * self.dt)


@dataclass(frozen=True)
class MarketMakingReport:
    """Metrics of every policy, each an Estimate with its 95% bootstrap interval over episodes."""

    gamma: float
    metrics: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    outcomes: dict[str, MarketMakingOutcomes] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: {"gamma", "episodes", "policies": {policy: {metric: {value, low, high}}}}."""
        return {
            "gamma": self.gamma,
            "episodes": len(next(iter(self.outcomes.values())).pnl) if self.outcomes else 0,
            "policies": {
                name: {metric: estimate.as_dict() for metric, estimate in values.items()}
                for name, values in self.metrics.items()
            },
        }


MM_METRIC_LABELS = {
    "pnl_mean": "mean PnL $",
    "pnl_std": "std PnL $",
    "utility": "utility E−(γ/2)V $",
    "sharpe": "Sharpe (per episode)",
    "mean_spread": "mean spread $",
    "fill_rate": "fills per unit time",
    "inventory_mean": "final q mean",
    "inventory_std": "final q std",
    "max_abs_inventory": "mean max |q|",
}
"""Column labels of the metrics table, in order (the utility_minus_<name> differences follow)."""


def sharpe(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over standard deviation (ddof=1) of terminal PnL, per episode (not annualised); NaN if constant."""
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.std(sample, axis=axis, ddof=1)
        return np.asarray(np.where(std > 0, np.mean(sample, axis=axis) / std, np.nan))


def utility_statistic(gamma: float) -> Statistic:
    """mean - (gamma/2) * variance (ddof=1): the A-S paper's mean-variance utility of terminal PnL."""
    return mean_plus_variance(-gamma / 2.0)


def episode_spreads(outcome: MarketMakingOutcomes) -> np.ndarray:
    """Per-episode mean of bid + ask distance over the steps where both sides were quoted (NaN if none)."""
    total = outcome.bid_offsets + outcome.ask_offsets
    quoted = np.isfinite(total)
    counts = quoted.sum(axis=1)
    sums = np.where(quoted, total, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _finite_bootstrap(sample: np.ndarray, seed: int) -> Estimate:
    """Mean with interval over the episodes where the value is defined; NaN when none is."""
    finite = sample[np.isfinite(sample)]
    return bootstrap(mean, finite, seed=seed) if len(finite) else Estimate(np.nan, np.nan, np.nan)


def measure_market_making(
    outcomes: Iterable[MarketMakingOutcomes],
    gamma: float,
    compare_to: Sequence[str] = ("A-S inventory", "symmetric"),
    seed: int = 0,
) -> MarketMakingReport:
    """Per-policy metrics of terminal PnL, quotes, fills and inventory, with 95% bootstrap intervals.

    utility = mean(pnl) - (gamma/2) * var(pnl); `utility_minus_<name>` = this policy's utility minus
    that policy's, resampled in pairs of episodes (every policy runs on the same seeded episodes),
    for each name in `compare_to` that was run.
    """
    by_name = {outcome.name: outcome for outcome in outcomes}
    utility = utility_statistic(gamma)
    report = MarketMakingReport(gamma=gamma, outcomes=by_name)
    for name, outcome in by_name.items():
        pnl, final = outcome.pnl, outcome.inventory[:, -1]
        metrics = {
            "pnl_mean": bootstrap(mean, pnl, seed=seed),
            "pnl_std": bootstrap(standard_deviation, pnl, seed=seed),
            "utility": bootstrap(utility, pnl, seed=seed),
            "sharpe": bootstrap(sharpe, pnl, seed=seed),
            "mean_spread": _finite_bootstrap(episode_spreads(outcome), seed),
            "fill_rate": bootstrap(mean, outcome.fills.sum(axis=1) / outcome.horizon, seed=seed),
            "inventory_mean": bootstrap(mean, final, seed=seed),
            "inventory_std": bootstrap(standard_deviation, final, seed=seed),
            "max_abs_inventory": bootstrap(mean, np.abs(outcome.inventory).max(axis=1), seed=seed),
        }
        for other in compare_to:
            if other in by_name and other != name:
                metrics[f"utility_minus_{other}"] = bootstrap(
                    paired_difference(utility), pnl, by_name[other].pnl, seed=seed
                )
        report.metrics[name] = metrics
    return report

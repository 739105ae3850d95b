"""Results per configuration across seeds: mean, standard deviation, interquartile mean and a 95%
bootstrap interval of the mean for every metric, and the probability that the agent beats each
baseline on an episode (with an interval from a two-level bootstrap: seeds, then their episodes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from tradebrain.backtest.bootstrap import Estimate, bootstrap, mean
from tradebrain.experiments.grid import Cell
from tradebrain.experiments.store import CellRecord


@dataclass(frozen=True)
class SeedStats:
    """One metric of one configuration over its seeds."""

    n: int
    mean: float
    std: float
    """Sample standard deviation (ddof=1); 0 with one seed."""
    iqm: float
    """Interquartile mean: the mean of the middle 50% (25% trimmed from each end)."""
    low: float
    high: float
    """95% bootstrap interval of the mean over seeds (equal to the mean with fewer than 3 seeds)."""

    def as_dict(self) -> dict[str, float]:
        """JSON-ready."""
        return {"n": self.n, "mean": self.mean, "std": self.std, "iqm": self.iqm, "low": self.low, "high": self.high}


def interquartile_mean(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the values left after trimming 25% from each end (scipy's trim_mean, as rliable's IQM)."""
    return float(stats.trim_mean(np.asarray(values, dtype=float), 0.25))


def seed_stats(values: Sequence[float], seed: int = 0) -> SeedStats:
    """Mean, std, IQM and a 95% BCa bootstrap interval of the mean (tradebrain.backtest.bootstrap)."""
    sample = np.asarray(values, dtype=float)
    estimate = bootstrap(mean, sample, seed=seed)
    std = float(np.std(sample, ddof=1)) if len(sample) > 1 else 0.0
    return SeedStats(len(sample), estimate.value, std, interquartile_mean(sample), estimate.low, estimate.high)


def _beats(differences: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probability of improvement per row: share of positive differences, ties counted as half."""
    return np.asarray(np.mean((differences > 0) + 0.5 * (differences == 0), axis=axis))


def probability_of_improvement(per_seed: Sequence[Sequence[float]], resamples: int = 2000, seed: int = 0) -> Estimate:
    """P(agent beats baseline) on one episode, pooled over seeds, with a 95% percentile interval from a
    two-level bootstrap: resample seeds, then episodes within each drawn seed (seeds vary more than
    episodes, and pooling them as independent would narrow the interval)."""
    groups = [np.asarray(group, dtype=float) for group in per_seed if len(group)]
    if not groups:
        return Estimate(float("nan"), float("nan"), float("nan"))
    value = float(_beats(np.concatenate(groups)))
    episodes = min(len(group) for group in groups)
    data = np.stack([group[:episodes] for group in groups])  # (seeds, episodes)
    rng = np.random.default_rng(seed)
    seed_draws = rng.integers(0, len(groups), size=(resamples, len(groups)))
    episode_draws = rng.integers(0, episodes, size=(resamples, len(groups), episodes))
    samples = data[seed_draws[..., None], episode_draws].reshape(resamples, -1)
    low, high = np.percentile(_beats(samples, axis=-1), [2.5, 97.5])
    return Estimate(value, min(float(low), value), max(float(high), value))


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration (grid values) over its completed seeds."""

    label: str
    values: dict[str, Any]
    config_hash: str
    seeds: list[int]
    metrics: dict[str, SeedStats]
    per_seed: dict[str, list[float]]
    improvement: dict[str, Estimate] = field(default_factory=dict)
    """Baseline -> probability that the agent beats it on an episode."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "label": self.label, "values": self.values, "config_hash": self.config_hash, "seeds": self.seeds,
            "metrics": {name: stat.as_dict() for name, stat in self.metrics.items()},
            "per_seed": self.per_seed,
            "probability_of_improvement": {name: est.as_dict() for name, est in self.improvement.items()},
        }  # fmt: skip


def aggregate(cells: Sequence[Cell], records: Mapping[str, CellRecord | None]) -> list[ConfigSummary]:
    """A summary per configuration in grid order, over the seeds whose cells completed."""
    groups: dict[str, list[tuple[Cell, CellRecord]]] = {}
    for cell in cells:
        record = records.get(cell.key)
        groups.setdefault(cell.config_hash, [])
        if record is not None and record.completed:
            groups[cell.config_hash].append((cell, record))
    summaries = []
    for digest, members in groups.items():
        if not members:
            continue
        first = members[0][0]
        names = [name for name in members[0][1].metrics if all(name in r.metrics for _, r in members)]
        per_seed = {name: [record.metrics[name] for _, record in members] for name in names}
        baselines = [name for name in members[0][1].improvements if all(name in r.improvements for _, r in members)]
        summaries.append(
            ConfigSummary(
                label=first.label, values=first.values, config_hash=digest,
                seeds=[record.seed for _, record in members],
                metrics={name: seed_stats(values) for name, values in per_seed.items()},
                per_seed=per_seed,
                improvement={
                    name: probability_of_improvement([record.improvements[name] for _, record in members])
                    for name in baselines
                },
            )
        )  # fmt: skip
    return summaries

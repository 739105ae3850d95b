"""Point estimates with 95% bootstrap confidence intervals (scipy.stats.bootstrap, BCa)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A statistic and its confidence interval [low, high]."""

    value: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, float]:
        """{"value", "low", "high"}, for JSON."""
        return {"value": self.value, "low": self.low, "high": self.high}


Statistic = Callable[..., np.ndarray]
"""A vectorised statistic: arrays with resamples along `axis` -> one value per resample."""


def bootstrap(
    statistic: Statistic,
    *samples: np.ndarray,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """The statistic of the samples with a BCa bootstrap interval; samples of equal length are
    resampled together (paired), so a difference between policies run on the same episodes keeps
    its pairing. Where BCa is undefined (e.g. a win rate of 0 in every resample) the percentile
    interval is used; an interval is widened, never narrowed, to contain the point estimate."""
    data = tuple(np.asarray(sample, dtype=float) for sample in samples)
    value = float(statistic(*data, axis=-1))
    if len(data[0]) < 3 or np.all(np.ptp(np.stack(data), axis=-1) == 0):
        return Estimate(value, value, value)
    low, high = _interval(statistic, data, confidence, resamples, seed, "BCa")
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa is undefined when every resample agrees
        low, high = _interval(statistic, data, confidence, resamples, seed, "percentile")
    return Estimate(value, min(low, value), max(high, value))


def _interval(
    statistic: Statistic, data: tuple[np.ndarray, ...], confidence: float, resamples: int, seed: int, method: str
) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            data,
            statistic,
            paired=len(data) > 1,
            vectorized=True,
            confidence_level=confidence,
            n_resamples=resamples,
            method=method,
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    return float(low), float(high)


def mean(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    """Arithmetic mean."""
    return np.asarray(np.mean(sample, axis=axis))


def standard_deviation(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sample standard deviation (ddof=1)."""
    return np.asarray(np.std(sample, axis=axis, ddof=1))


def mean_plus_variance(weight: float) -> Statistic:
    """E + weight*V: the sample mean plus `weight` times the sample variance (ddof=1)."""

    def statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(np.mean(sample, axis=axis) + weight * np.var(sample, axis=axis, ddof=1))

    return statistic


def paired_difference(statistic: Statistic) -> Statistic:
    """statistic(a) - statistic(b) on paired samples."""

    def difference(first: np.ndarray, second: np.ndarray, axis: int = -1) -> np.ndarray:
        return statistic(first, axis=axis) - statistic(second, axis=axis)

    return difference


def information_ratio(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over standard deviation (ddof=1), per episode (not annualised)."""
    return np.asarray(np.mean(sample, axis=axis) / np.std(sample, axis=axis, ddof=1))


def win_rate(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    """Fraction of strictly positive values."""
    return np.asarray(np.mean(sample > 0, axis=axis))


def value_at_risk(level: float) -> Statistic:
    """Loss at the `level` quantile: minus the `level` quantile of the sample (positive = a loss)."""

    def statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(-np.quantile(sample, level, axis=axis))

    return statistic

"""Statistics across seeds against hand-computed values: mean, std, IQM, intervals, P(improvement)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradebrain.experiments.aggregate import aggregate, interquartile_mean, probability_of_improvement, seed_stats
from tradebrain.experiments.grid import Cell
from tradebrain.experiments.store import CellRecord


def test_interquartile_mean_trims_a_quarter_from_each_end() -> None:
    # sorted -50, 1, 2, 3, 4, 5, 6, 100: drop the 2 lowest and the 2 highest, mean of 2, 3, 4, 5
    assert interquartile_mean([100.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, -50.0]) == pytest.approx(3.5)
    assert interquartile_mean([1.0, 2.0, 9.0]) == pytest.approx(4.0)  # a quarter of 3 rounds down to none


def test_seed_stats_by_hand() -> None:
    stats = seed_stats([1.0, 2.0, 3.0, 10.0])
    assert stats.n == 4
    assert stats.mean == pytest.approx(4.0)
    assert stats.std == pytest.approx(math.sqrt(((3**2) + 2**2 + 1 + 36) / 3))
    assert stats.iqm == pytest.approx(2.5)
    assert stats.low <= 4.0 <= stats.high and stats.low >= 1.0 and stats.high <= 10.0
    single = seed_stats([7.0])
    assert (single.mean, single.std, single.low, single.high) == (7.0, 0.0, 7.0, 7.0)


def test_probability_of_improvement_counts_ties_as_half() -> None:
    estimate = probability_of_improvement([[1.0, -1.0, 0.0, 2.0], [3.0, 3.0, -1.0, 0.0]])
    assert estimate.value == pytest.approx((2 + 0.5 + 2 + 0.5) / 8)
    assert 0.0 <= estimate.low <= estimate.value <= estimate.high <= 1.0
    always = probability_of_improvement([[1.0, 2.0], [3.0, 4.0]])
    assert (always.value, always.low, always.high) == (1.0, 1.0, 1.0)


def test_the_interval_widens_when_seeds_disagree() -> None:
    rng = np.random.default_rng(0)
    agree = [rng.normal(0.5, 1.0, 200).tolist() for _ in range(3)]
    disagree = [rng.normal(shift, 1.0, 200).tolist() for shift in (-2.0, 0.5, 3.0)]
    narrow, wide = probability_of_improvement(agree), probability_of_improvement(disagree)
    assert wide.high - wide.low > 2 * (narrow.high - narrow.low)


def _cell(config_hash: str, seed: int, algo: str) -> Cell:
    return Cell("execution", {"train.algo": algo}, seed, {}, config_hash)


def _record(cell: Cell, value: float, status: str = "completed") -> CellRecord:
    return CellRecord(key=cell.key, config_hash=cell.config_hash, seed=cell.seed, values=cell.values,
                      status=status, metrics={"agent/objective_usd": value},  # type: ignore[arg-type]
                      improvements={"TWAP": [value, -1.0]})  # fmt: skip


def test_aggregate_groups_by_configuration_and_skips_failed_seeds() -> None:
    cells = [_cell("aaa", seed, "ppo") for seed in range(3)] + [_cell("bbb", seed, "sac") for seed in range(3)]
    outcomes = [(1.0, "completed"), (2.0, "completed"), (6.0, "completed"), (5.0, "completed"), (9.0, "failed")]
    records: dict[str, CellRecord | None] = {
        cell.key: _record(cell, value, status) for cell, (value, status) in zip(cells, outcomes, strict=False)
    }
    records[cells[5].key] = None
    summaries = aggregate(cells, records)
    assert [s.label for s in summaries] == ["train.algo=ppo", "train.algo=sac"]
    ppo, sac = summaries
    assert ppo.seeds == [0, 1, 2] and ppo.metrics["agent/objective_usd"].mean == pytest.approx(3.0)
    assert ppo.per_seed["agent/objective_usd"] == [1.0, 2.0, 6.0]
    assert ppo.improvement["TWAP"].value == pytest.approx(0.5)  # each seed: one win, one loss
    assert sac.seeds == [0] and sac.metrics["agent/objective_usd"].n == 1

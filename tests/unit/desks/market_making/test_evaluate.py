from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tradebrain.desks.market_making.baselines import inventory_quotes, symmetric_quotes
from tradebrain.desks.market_making.evaluate import MarketMakingOutcomes, MarketMakingReport, measure_market_making
from tradebrain.desks.market_making.simulator import MarketMakingConfig, MarketMakingSimulator

EPISODES = 200
GAMMA = 0.1
Quotes = Callable[[float, np.ndarray, np.ndarray, float, MarketMakingConfig], tuple[np.ndarray, np.ndarray]]


def simulate(
    name: str, quotes: Quotes, config: MarketMakingConfig, episodes: int, gamma: float
) -> MarketMakingOutcomes:
    """Run a quote function on seeds 0..episodes-1 and record every path."""
    sim = MarketMakingSimulator(config, episodes=episodes)
    sim.reset(seeds=list(range(episodes)))
    steps = config.steps
    inventory, mids = np.empty((episodes, steps + 1)), np.empty((episodes, steps + 1))
    bids, asks, fills = np.empty((episodes, steps)), np.empty((episodes, steps)), np.empty((episodes, steps))
    inventory[:, 0], mids[:, 0] = sim.inventory, sim.mid
    for step in range(steps):
        delta_b, delta_a = quotes(step * config.dt, sim.inventory.copy(), sim.mid.copy(), gamma, config)
        bids[:, step], asks[:, step] = delta_b, delta_a
        sim.step(delta_b, delta_a)
        fills[:, step] = sim.bid_fills + sim.ask_fills
        inventory[:, step + 1], mids[:, step + 1] = sim.inventory, sim.mid
    return MarketMakingOutcomes(name, sim.profit().copy(), inventory, mids, bids, asks, fills, config.dt)


@pytest.fixture(scope="module")
def runs() -> tuple[MarketMakingOutcomes, MarketMakingOutcomes]:
    config = MarketMakingConfig()
    return (
        simulate("A-S inventory", inventory_quotes, config, EPISODES, GAMMA),
        simulate("symmetric", symmetric_quotes, config, EPISODES, GAMMA),
    )


@pytest.fixture(scope="module")
def report(runs: tuple[MarketMakingOutcomes, MarketMakingOutcomes]) -> MarketMakingReport:
    return measure_market_making(runs, gamma=GAMMA)


def test_every_metric_matches_numpy(
    runs: tuple[MarketMakingOutcomes, MarketMakingOutcomes], report: MarketMakingReport
) -> None:
    for outcome in runs:
        metrics = report.metrics[outcome.name]
        pnl, final = outcome.pnl, outcome.inventory[:, -1]
        expected = {
            "pnl_mean": pnl.mean(),
            "pnl_std": pnl.std(ddof=1),
            "utility": pnl.mean() - GAMMA / 2 * pnl.var(ddof=1),
            "sharpe": pnl.mean() / pnl.std(ddof=1),
            "mean_spread": np.mean(np.mean(outcome.bid_offsets + outcome.ask_offsets, axis=1)),
            "fill_rate": np.mean(outcome.fills.sum(axis=1) / (outcome.fills.shape[1] * outcome.dt)),
            "inventory_mean": final.mean(),
            "inventory_std": final.std(ddof=1),
            "max_abs_inventory": np.abs(outcome.inventory).max(axis=1).mean(),
        }
        for key, value in expected.items():
            estimate = metrics[key]
            assert estimate.value == pytest.approx(value, rel=1e-12, abs=1e-12), (outcome.name, key)
            assert estimate.low <= estimate.value <= estimate.high, (outcome.name, key)
            if key != "mean_spread":  # both strategies' spreads depend on time only: the same every episode
                assert estimate.low < estimate.high, (outcome.name, key)
            else:
                assert estimate.low == estimate.high, (outcome.name, key)


def test_paths_are_consistent(runs: tuple[MarketMakingOutcomes, MarketMakingOutcomes]) -> None:
    for outcome in runs:
        changes = np.abs(np.diff(outcome.inventory, axis=1))
        assert np.all(changes <= outcome.fills)  # a step's inventory change never exceeds its fills
        assert np.all(np.isin(outcome.fills, (0, 1, 2)))
        np.testing.assert_array_equal(outcome.mids, runs[0].mids)  # the same seeded mid paths


def test_paired_differences(report: MarketMakingReport) -> None:
    inventory, symmetric = report.metrics["A-S inventory"], report.metrics["symmetric"]
    difference = inventory["utility_minus_symmetric"]
    assert difference.value == pytest.approx(inventory["utility"].value - symmetric["utility"].value, rel=1e-12)
    assert symmetric["utility_minus_A-S inventory"].value == pytest.approx(-difference.value, rel=1e-12)
    assert "utility_minus_A-S inventory" not in inventory  # no comparison with itself
    assert difference.low <= difference.value <= difference.high


def test_inventory_strategy_has_less_risk(report: MarketMakingReport) -> None:
    inventory, symmetric = report.metrics["A-S inventory"], report.metrics["symmetric"]
    assert inventory["pnl_std"].value < symmetric["pnl_std"].value
    assert inventory["inventory_std"].value < symmetric["inventory_std"].value
    assert inventory["pnl_std"].high < symmetric["pnl_std"].low


def test_constant_pnl_gives_a_point_interval() -> None:
    steps, episodes = 4, 10
    flat = MarketMakingOutcomes(
        name="flat",
        pnl=np.full(episodes, 3.0),
        inventory=np.zeros((episodes, steps + 1)),
        mids=np.full((episodes, steps + 1), 100.0),
        bid_offsets=np.full((episodes, steps), np.nan),
        ask_offsets=np.full((episodes, steps), 0.5),
        fills=np.zeros((episodes, steps)),
        dt=0.25,
    )
    metrics = measure_market_making([flat], gamma=GAMMA).metrics["flat"]
    for key in ("pnl_mean", "utility", "fill_rate", "max_abs_inventory"):
        estimate = metrics[key]
        assert estimate.low == estimate.value == estimate.high, key
    assert metrics["pnl_mean"].value == 3.0
    assert metrics["pnl_std"].value == 0.0
    assert np.isnan(metrics["sharpe"].value)
    assert np.isnan(metrics["mean_spread"].value)  # no step quoted both sides


def test_as_dict_is_json_ready(report: MarketMakingReport) -> None:
    data = report.as_dict()
    assert data["gamma"] == GAMMA and data["episodes"] == EPISODES
    policies = data["policies"]
    assert isinstance(policies, dict)
    assert set(policies["A-S inventory"]["utility"]) == {"value", "low", "high"}

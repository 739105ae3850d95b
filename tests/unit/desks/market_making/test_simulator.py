"""MarketMakingSimulator: validation, fill frequencies, the binomial mid, limits, fees, batching, accounting."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest

from tradebrain.core.errors import InputError
from tradebrain.desks.market_making.simulator import MarketMakingConfig, MarketMakingSimulator

STILL = MarketMakingConfig(sigma=0.0)
"""A mid that never moves, for exact cash arithmetic."""


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ({"k": 0.0}, r"k\n[\s\S]*greater than 0"),
        ({"A": -1.0}, r"A\n[\s\S]*greater than 0"),
        ({"dt": 0.0}, r"dt\n[\s\S]*greater than 0"),
        ({"A": 300.0}, r"A \* dt = 300 \* 0.005 = 1.5 > 1[\s\S]*lower A or dt"),
        ({"fill_A": 250.0}, r"fill_A \* dt[\s\S]*exceed one; lower fill_A"),
        ({"sigma": math.nan}, r"sigma\n[\s\S]*finite number"),
        ({"k": math.inf}, r"k\n[\s\S]*finite number"),
        ({"dt": 2.0}, r"dt = 2 is longer than horizon = 1; lower dt"),
        ({"dt": 0.3}, r"whole number of steps; pick dt = horizon / n"),
        ({"drift": 0.1}, r"set mid: brownian"),
        ({"q0": 3, "max_inventory": 2}, r"exceeds max_inventory = 2; lower q0"),
        ({"lambda_": 1.0}, r"lambda_\n[\s\S]*Extra inputs are not permitted"),
    ],
)
def test_bad_parameters_are_rejected_with_a_fix(updates: dict[str, float], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        MarketMakingConfig(**updates)


def test_defaults_are_the_papers() -> None:
    config = MarketMakingConfig()
    assert (config.s0, config.horizon, config.sigma, config.dt, config.A, config.k, config.q0) == (
        100.0, 1.0, 2.0, 0.005, 140.0, 1.5, 0,
    )  # fmt: skip
    assert (config.steps, config.mid, config.true_A, config.true_k) == (200, "binomial", 140.0, 1.5)


def run(sim: MarketMakingSimulator, delta_b: float, delta_a: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Quote constant distances over a whole episode; returns the bid and ask fills, (steps, episodes)."""
    sim.reset(list(range(seed, seed + sim.episodes)))
    bids, asks = [], []
    while not sim.done:
        sim.step(np.full(sim.episodes, delta_b), np.full(sim.episodes, delta_a))
        bids.append(sim.bid_fills.copy())
        asks.append(sim.ask_fills.copy())
    return np.array(bids), np.array(asks)


@pytest.mark.parametrize(
    ("config", "delta_b", "delta_a"),
    [
        (MarketMakingConfig(), 0.5, 1.5),
        (MarketMakingConfig(), 3.0, 0.0),
        (MarketMakingConfig(fill_A=60.0, fill_k=0.8), 0.2, 1.0),  # true intensities differ from A, k
    ],
)
def test_fill_frequencies_match_the_intensity(config: MarketMakingConfig, delta_b: float, delta_a: float) -> None:
    sim = MarketMakingSimulator(config, episodes=1000)
    bids, asks = run(sim, delta_b, delta_a)
    for fills, delta in ((bids, delta_b), (asks, delta_a)):
        p = config.fill_probability(delta)
        assert p == pytest.approx(min(1.0, config.true_A * math.exp(-config.true_k * delta) * config.dt))
        error = math.sqrt(p * (1 - p) / fills.size)
        assert abs(fills.mean() - p) < 4 * error
    # the two sides are drawn independently
    both = (bids * asks).mean()
    assert abs(both - bids.mean() * asks.mean()) < 4 * math.sqrt(both / bids.size) + 1e-4


def test_a_quote_through_the_mid_always_fills_and_nan_never_does() -> None:
    sim = MarketMakingSimulator(MarketMakingConfig(), episodes=50)
    bids, asks = run(sim, math.nan, -0.5)
    assert bids.sum() == 0 and asks.min() == 1.0
    np.testing.assert_array_equal(sim.inventory, np.full(50, -200.0))


def test_binomial_mid_moves_exactly_one_tick_up_or_down() -> None:
    config = MarketMakingConfig()
    sim = MarketMakingSimulator(config, episodes=500)
    sim.reset(list(range(500)))
    mids = [sim.mid.copy()]
    while not sim.done:
        sim.step(np.full(500, 1.0), np.full(500, 1.0))
        mids.append(sim.mid.copy())
    moves = np.diff(np.array(mids), axis=0)
    tick = config.sigma * math.sqrt(config.dt)
    np.testing.assert_allclose(np.abs(moves), tick, rtol=1e-9)
    assert abs((moves > 0).mean() - 0.5) < 4 * math.sqrt(0.25 / moves.size)


def test_brownian_mid_has_the_drift_and_volatility() -> None:
    config = MarketMakingConfig(mid="brownian", drift=3.0)
    sim = MarketMakingSimulator(config, episodes=2000)
    run(sim, math.nan, math.nan)
    moved = sim.mid - config.s0
    assert abs(moved.mean() - 3.0) < 4 * config.sigma / math.sqrt(2000)
    assert moved.std() == pytest.approx(config.sigma, rel=0.1)
    np.testing.assert_array_equal(sim.volatility, config.sigma)


def test_stochastic_volatility_moves_the_volatility() -> None:
    sim = MarketMakingSimulator(MarketMakingConfig(mid="brownian", vol_of_vol=1.0), episodes=2000)
    run(sim, math.nan, math.nan)
    assert sim.volatility.std() > 0.5
    assert sim.volatility.mean() == pytest.approx(2.0, rel=0.1)  # compensated: E[sigma_T] = sigma


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_inventory_limits_are_never_breached(limit: int) -> None:
    config = MarketMakingConfig(max_inventory=limit)
    sim = MarketMakingSimulator(config, episodes=64)
    rng = np.random.default_rng(limit)
    sim.reset(list(range(64)))
    reached = 0.0
    while not sim.done:
        before = sim.inventory.copy()
        sim.step(rng.uniform(-1, 2, 64), rng.uniform(-1, 2, 64))
        assert np.all(np.abs(sim.inventory) <= limit)
        # a side at the limit is not quoted at all
        assert np.all(sim.bid_fills[before == limit] == 0) and np.all(sim.ask_fills[before == -limit] == 0)
        reached = max(reached, float(np.abs(sim.inventory).max()))
    assert reached == limit


def test_fee_is_charged_per_fill() -> None:
    fee = 0.01
    sim = MarketMakingSimulator(MarketMakingConfig(sigma=0.0, fee=fee), episodes=3)
    bids, asks = run(sim, -0.4, -0.5)  # through the mid, p = 1: both sides fill every step
    assert bids.min() == 1.0 and asks.min() == 1.0
    steps = sim.steps
    # each step: sell at 100 - 0.5, buy at 100 + 0.4, pay two fees
    np.testing.assert_allclose(sim.cash, steps * (-0.5 - 0.4 - 2 * fee), rtol=1e-12)
    np.testing.assert_allclose(sim.wealth(), sim.cash)
    np.testing.assert_array_equal(sim.inventory, 0.0)


@pytest.mark.parametrize(
    "config",
    [MarketMakingConfig(), MarketMakingConfig(mid="brownian", drift=1.0, vol_of_vol=0.5, max_inventory=4, fee=0.01)],
)
def test_batch_equals_single_simulators_seed_for_seed(config: MarketMakingConfig) -> None:
    seeds = [3, 11, 42, 7]
    quotes = np.random.default_rng(0).uniform(-0.5, 2.0, size=(config.steps, 2, len(seeds)))
    quotes[::7, 0, 1] = np.nan
    batch = MarketMakingSimulator(config, episodes=len(seeds))
    batch.reset(seeds)
    singles = [MarketMakingSimulator(config) for _ in seeds]
    for sim, seed in zip(singles, seeds, strict=True):
        sim.reset([seed])
    for step in range(config.steps):
        batch.step(quotes[step, 0], quotes[step, 1])
        for i, sim in enumerate(singles):
            sim.step(quotes[step, 0, i : i + 1], quotes[step, 1, i : i + 1])
    for i, sim in enumerate(singles):
        for name in ("mid", "inventory", "cash", "bid_fills", "ask_fills", "volatility"):
            assert getattr(sim, name)[0] == getattr(batch, name)[i], name


def test_wealth_changes_only_through_fills_and_mid_moves() -> None:
    fee = 0.02
    config = MarketMakingConfig(fee=fee, q0=2)
    sim = MarketMakingSimulator(config, episodes=32)
    rng = np.random.default_rng(5)
    sim.reset(list(range(32)))
    np.testing.assert_allclose(sim.wealth(), 2 * config.s0)
    np.testing.assert_array_equal(sim.profit(), 0.0)
    while not sim.done:
        delta_b, delta_a = rng.uniform(-0.5, 2, 32), rng.uniform(-0.5, 2, 32)
        wealth, mid = sim.wealth(), sim.mid.copy()
        sim.step(delta_b, delta_a)
        spread_earned = sim.bid_fills * (delta_b - fee) + sim.ask_fills * (delta_a - fee)
        np.testing.assert_allclose(sim.wealth() - wealth, spread_earned + sim.inventory * (sim.mid - mid), atol=1e-9)
    np.testing.assert_allclose(sim.profit(), sim.wealth() - 2 * config.s0)


def test_bad_quotes_and_misuse_are_rejected() -> None:
    sim = MarketMakingSimulator(MarketMakingConfig(), episodes=2)
    with pytest.raises(RuntimeError, match="reset"):
        sim.step(np.ones(2), np.ones(2))
    sim.reset([0, 1])
    with pytest.raises(InputError, match="use NaN for no quote"):
        sim.step(np.array([1.0, math.inf]), np.ones(2))
    with pytest.raises(InputError, match=r"delta_a must have shape \(2,\)"):
        sim.step(np.ones(2), np.ones(3))
    assert sim.step_index == 0
    with pytest.raises(InputError, match="one per episode"):
        sim.reset([0])
    with pytest.raises(InputError, match="episodes must be >= 1"):
        MarketMakingSimulator(MarketMakingConfig(), episodes=0)
    with pytest.raises(ValueError, match="read-only"):
        sim.inventory[0] = 5.0

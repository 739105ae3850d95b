"""LiquidationSimulator invariants: deadline, accounting, closed-form agreement, validation, no future."""

from __future__ import annotations

import numpy as np
import pytest

from tradebrain.core.errors import InputError
from tradebrain.desks.execution.almgren_chriss import (
    immediate_holdings,
    optimal_holdings,
    schedule_moments,
    twap_holdings,
)
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig
from tradebrain.desks.execution.simulator import LiquidationSimulator

DETERMINISTIC = MarketConfig(sigma=0.0, drift=0.0)


def run_schedule(sim: LiquidationSimulator, holdings: np.ndarray, seeds: list[int]) -> np.ndarray:
    """Trade the static schedule x_0..x_N in every episode; returns the per-step shortfalls (N, episodes)."""
    sim.reset(seeds)
    trades = -np.diff(holdings)
    shortfalls = []
    for n_k in trades:
        shares = np.minimum(np.full(sim.episodes, n_k), sim.inventory)
        _, outcome = sim.step(shares)
        shortfalls.append(outcome.shortfall)
    assert sim.done
    return np.array(shortfalls)


def snapshot(sim: LiquidationSimulator) -> dict[str, np.ndarray | int]:
    return {
        "inventory": sim.inventory.copy(),
        "cash": sim.cash.copy(),
        "mid": sim.mid.copy(),
        "mids": sim.mids.copy(),
        "step": sim.step_index,
    }


def test_inventory_reaches_zero_at_the_deadline_whatever_the_trades() -> None:
    task = LiquidationTask(steps=6)
    sim = LiquidationSimulator(MarketConfig(), task, episodes=4)
    sim.reset([0, 1, 2, 3])
    rng = np.random.default_rng(0)
    for k in range(task.steps):
        fractions = np.array([0.0, 0.01, 1.0, 0.0]) if k < task.steps - 1 else np.zeros(4)
        fractions[3] = rng.uniform()
        state, outcome = sim.step(fractions * sim.inventory)
        assert np.all(state.inventory >= 0)
        np.testing.assert_array_equal(outcome.carried, state.inventory)
    assert sim.done
    np.testing.assert_array_equal(sim.inventory, np.zeros(4))
    # episode 0 held everything until the end: the last step traded the whole block
    assert sim.traded[0] == task.shares
    assert state.step == task.steps


@pytest.mark.parametrize("side", ["sell", "buy"])
@pytest.mark.parametrize("process", ["abm", "gbm", "ou", "garch"])
def test_shortfall_increments_sum_to_implementation_shortfall(side: str, process: str) -> None:
    market = MarketConfig(process=process, ou_theta=1.0 if process == "ou" else 0.0)
    task = LiquidationTask(side=side, steps=7)
    sim = LiquidationSimulator(market, task, episodes=16)
    rng = np.random.default_rng(1)
    sim.reset(list(range(16)))
    total = np.zeros(16)
    traded = np.zeros(16)
    for _ in range(task.steps):
        _, outcome = sim.step(rng.uniform(size=16) * sim.inventory)
        total += outcome.shortfall
        traded += outcome.shares
    notional = task.shares * market.s0
    np.testing.assert_allclose(total, sim.implementation_shortfall(), rtol=1e-9, atol=1e-12 * notional)
    np.testing.assert_allclose(traded, task.shares, rtol=1e-12)


SCHEDULES = {
    "twap": twap_holdings,
    "optimal": lambda task: optimal_holdings(MarketConfig(), task, 1e-6),
    "immediate": immediate_holdings,
}


@pytest.mark.parametrize("steps", [1, 5, 20])
@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_deterministic_shortfall_equals_closed_form(schedule: str, steps: int) -> None:
    task = LiquidationTask(steps=steps)
    holdings = SCHEDULES[schedule](task)
    sim = LiquidationSimulator(DETERMINISTIC, task, episodes=3)
    per_step = run_schedule(sim, holdings, [0, 1, 2])
    expected = schedule_moments(DETERMINISTIC, task, holdings).expected
    np.testing.assert_allclose(sim.implementation_shortfall(), expected, rtol=1e-9)
    np.testing.assert_allclose(per_step.sum(axis=0), expected, rtol=1e-9)


def test_deterministic_twap_by_hand() -> None:
    # gamma*X^2/2 + epsilon*X + eta_tilde/tau * N*(X/N)^2 = 125000 + 62500 + 2.375e-6 * 5 * 4e10
    sim = LiquidationSimulator(DETERMINISTIC, LiquidationTask(), episodes=1)
    run_schedule(sim, twap_holdings(LiquidationTask()), [0])
    np.testing.assert_allclose(sim.implementation_shortfall(), 125_000 + 62_500 + 475_000, rtol=1e-12)


def test_drift_enters_the_expected_shortfall() -> None:
    market = MarketConfig(sigma=0.0, drift=-0.2)
    task = LiquidationTask(steps=5)
    holdings = twap_holdings(task)
    sim = LiquidationSimulator(market, task, episodes=1)
    run_schedule(sim, holdings, [0])
    expected = schedule_moments(market, task, holdings).expected
    assert expected > schedule_moments(DETERMINISTIC, task, holdings).expected  # falling mid costs a seller
    np.testing.assert_allclose(sim.implementation_shortfall(), expected, rtol=1e-9)


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_buy_side_mirrors_sell_side(schedule: str) -> None:
    sell, buy = LiquidationTask(side="sell"), LiquidationTask(side="buy")
    holdings = SCHEDULES[schedule](sell)
    assert schedule_moments(MarketConfig(), buy, holdings) == schedule_moments(MarketConfig(), sell, holdings)

    # deterministic: the same shortfall
    results = []
    for task in (sell, buy):
        sim = LiquidationSimulator(DETERMINISTIC, task, episodes=1)
        run_schedule(sim, holdings, [0])
        results.append(sim.implementation_shortfall())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)

    # random, same normals: the noise term -sum_k x_k (F_k - F_{k-1}) flips sign with the side
    results = []
    for task in (sell, buy):
        sim = LiquidationSimulator(MarketConfig(), task, episodes=8)
        run_schedule(sim, holdings, list(range(8)))
        results.append(sim.implementation_shortfall())
    lookback = MarketConfig().lookback
    noise = -np.diff(sim.path[:, lookback:], axis=1) @ holdings[1:]
    expected = schedule_moments(MarketConfig(), sell, holdings).expected
    notional = sell.shares * MarketConfig().s0
    np.testing.assert_allclose(results[0], expected + noise, rtol=1e-9, atol=1e-12 * notional)
    np.testing.assert_allclose(results[1], expected - noise, rtol=1e-9, atol=1e-12 * notional)


def test_buyer_pays_above_and_seller_receives_below_the_mid() -> None:
    for side, sign in (("sell", -1), ("buy", 1)):
        sim = LiquidationSimulator(MarketConfig(), LiquidationTask(side=side), episodes=2)
        sim.reset([3, 4])
        mid = sim.mid.copy()
        _, outcome = sim.step(np.array([1e5, 0.0]))
        assert sign * (outcome.price[0] - mid[0]) == pytest.approx(0.0625 + 2.5e-6 * 1e5, rel=1e-12)
        assert outcome.price[1] == mid[1]  # no trade, no temporary cost
        assert sim.cash[1] == 0.0


@pytest.mark.parametrize(
    "bad",
    [
        np.array([-1.0, 0.0, 0.0]),
        np.array([np.nan, 0.0, 0.0]),
        np.array([0.0, np.inf, 0.0]),
        np.array([0.0, 0.0, 1.0000001e6]),
    ],
)
def test_bad_shares_raise_and_leave_the_state_unchanged(bad: np.ndarray) -> None:
    sim = LiquidationSimulator(MarketConfig(), LiquidationTask(), episodes=3)
    sim.reset([0, 1, 2])
    sim.step(np.full(3, 1e5))
    before = snapshot(sim)
    with pytest.raises(InputError, match=r"finite and lie in \[0, inventory\]"):
        sim.step(bad)
    after = snapshot(sim)
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)
    sim.step(np.full(3, 1e5))  # still usable
    assert sim.step_index == 2


@pytest.mark.parametrize("shape", [(2,), (4,), (3, 1), ()])
def test_wrong_shape_raises_and_leaves_the_state_unchanged(shape: tuple[int, ...]) -> None:
    sim = LiquidationSimulator(MarketConfig(), LiquidationTask(), episodes=3)
    sim.reset([0, 1, 2])
    before = snapshot(sim)
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        sim.step(np.zeros(shape))
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        sim.advance(np.zeros(shape))
    for key, value in before.items():
        np.testing.assert_array_equal(snapshot(sim)[key], value, err_msg=key)


def test_more_than_inventory_within_tolerance_is_clipped() -> None:
    sim = LiquidationSimulator(MarketConfig(), LiquidationTask(), episodes=1)
    sim.reset([0])
    _, outcome = sim.step(np.array([1e6 * (1 + 1e-12)]))
    assert outcome.shares[0] == 1e6
    assert sim.inventory[0] == 0.0


def test_state_snapshots_are_read_only_copies_without_the_future() -> None:
    market, task = MarketConfig(lookback=3), LiquidationTask(steps=4)
    sim = LiquidationSimulator(market, task, episodes=2)
    sim.reset([5, 6])
    states = [sim.state]
    for _ in range(task.steps):
        state, outcome = sim.step(0.3 * sim.inventory)
        states.append(state)
        for array in (outcome.shares, outcome.price, outcome.shortfall, outcome.carried):
            assert not array.flags.writeable
    for k, state in enumerate(states):
        assert state.step == k
        assert state.episodes == 2
        assert state.mids.shape == (2, market.lookback + k + 1)
        assert np.all(np.isfinite(state.mids))  # every observed mid is known, no NaN placeholder
        np.testing.assert_array_equal(state.mids[:, : market.lookback + 1], sim.path[:, : market.lookback + 1])
        for array in (state.inventory, state.mid, state.cash, state.mids):
            assert not array.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                array[0] = 0.0
    # snapshots are copies: later steps did not change earlier ones
    assert states[0].inventory[0] == task.shares
    assert states[0].cash[0] == 0.0
    # mids after a trade carry the permanent impact: mid_k = F_k - gamma*(X - x_k)
    shares_sold = task.shares - states[1].inventory
    np.testing.assert_allclose(
        states[1].mids[:, -1], sim.path[:, market.lookback + 1] - market.gamma * shares_sold, rtol=1e-15
    )


def test_internal_mids_hide_the_future_until_reached() -> None:
    market, task = MarketConfig(lookback=2), LiquidationTask(steps=3)
    sim = LiquidationSimulator(market, task, episodes=1)
    sim.reset([0])
    assert np.all(np.isnan(sim.mids[:, market.lookback + 1 :]))
    sim.step(np.zeros(1))
    assert np.all(np.isnan(sim.mids[:, market.lookback + 2 :]))


def test_lifecycle_errors() -> None:
    sim = LiquidationSimulator(MarketConfig(), LiquidationTask(steps=2), episodes=2)
    with pytest.raises(RuntimeError, match="reset"):
        _ = sim.state
    with pytest.raises(RuntimeError, match="reset"):
        sim.step(np.zeros(2))
    sim.reset([0, 1])
    with pytest.raises(RuntimeError, match="final only at the deadline"):
        sim.implementation_shortfall()
    sim.step(np.zeros(2))
    sim.step(np.zeros(2))
    with pytest.raises(RuntimeError, match="episode is over"):
        sim.step(np.zeros(2))
    with pytest.raises(InputError, match="one per episode"):
        sim.reset([0])
    with pytest.raises(InputError, match="episodes must be >= 1"):
        LiquidationSimulator(MarketConfig(), LiquidationTask(), episodes=0)


def test_same_seed_same_episode_and_unseeded_reset_continues_the_stream() -> None:
    sim = LiquidationSimulator(MarketConfig(), LiquidationTask(), episodes=2)
    sim.reset([7, 7])
    np.testing.assert_array_equal(sim.path[0], sim.path[1])
    first = sim.path.copy()
    run_schedule(sim, twap_holdings(sim.task), [7, 8])
    np.testing.assert_array_equal(sim.path[0], first[0])
    sim.reset()
    assert not np.array_equal(sim.path[0], first[0])
    other = LiquidationSimulator(MarketConfig(), LiquidationTask(), episodes=1)
    other.reset([7])
    other.reset()
    np.testing.assert_array_equal(other.path[0], sim.path[0])

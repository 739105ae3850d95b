"""With orders in flight (latency, working orders) a policy sees the position its own orders are taking
it to, so a "hold" keeps its course instead of cancelling the order it has just sent."""

from __future__ import annotations

import numpy as np
from tests.unit.backtest.test_venue_fills import bars_of

from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.market.venue import VenueConfig


class BuyOnceThenHold:
    """Buys at bar 1, then holds: its target is the position it sees, like the day-trading agent's hold.
    Records the position it was shown at each bar."""

    name = "buy-once"

    def __init__(self) -> None:
        self.seen: list[tuple[int, float, float, int]] = []

    def decide(
        self, t: int, j: int, history: np.ndarray, features: np.ndarray, position: float, avg_cost: float,
        bars_held: int, bars_left: int,
    ) -> float:  # fmt: skip
        self.seen.append((t, position, avg_cost, bars_held))
        if t == 1:
            return 1.0
        return 1.0 if position > 0.0 else 0.0


def test_hold_keeps_an_entry_that_is_still_on_its_way() -> None:
    opens = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    bars = bars_of(opens, [o + 0.5 for o in opens])
    policy = BuyOnceThenHold()
    config = BacktestConfig(cash=1000.0, venue=VenueConfig(spread="none", latency_bars=2))
    result = run_backtest(bars, policy, config, compiled=False)
    fills = [(result.timestamps.get_loc(f.timestamp), f.quantity) for f in result.fills]
    assert fills == [(4, 71.0)]  # decided at bar 1, two bars of latency: bar 4's open (1000 // 14 shares)
    assert result.positions[-1, 0] == 71.0  # held to the end: the holds at bars 2 and 3 did not cancel it
    assert policy.seen[2] == (2, 1.0, 0.0, -1)  # in flight: the intended long, no cost yet, not held
    assert policy.seen[3] == (3, 1.0, 0.0, -1)
    assert policy.seen[5][1] == 71.0 and policy.seen[5][2] == 14.0  # filled: the real position and cost


def test_without_orders_in_flight_the_policy_sees_the_book() -> None:
    opens = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    bars = bars_of(opens, [o + 0.5 for o in opens])
    policy = BuyOnceThenHold()
    run_backtest(bars, policy, BacktestConfig(cash=1000.0, venue=VenueConfig(spread="none")), compiled=False)
    assert policy.seen[2] == (2, 83.0, 12.0, 0)  # next open, no latency: filled at bar 2's open (1000 // 12)

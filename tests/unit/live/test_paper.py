"""The paper broker fills as the backtest does: the same orders on the same real bars give the
same fills and final equity to the cent under each fill model; a repeated client order id is
ignored; bad orders and bars are refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from tests.unit.backtest.helpers import Schedule

from tradebrain.backtest.engine import BacktestConfig, run_backtest
from tradebrain.core.errors import InputError
from tradebrain.live.paper import PaperBroker
from tradebrain.market.venue import VenueConfig


@pytest.mark.parametrize(
    "venue",
    [
        VenueConfig(fill="next_open", spread="range", fee_rate=0.0002),
        VenueConfig(
            fill="next_open", spread="fixed", spread_bps=3.0, slippage_bps=1.0, fee_per_share=0.01, min_fee=1.0
        ),
        VenueConfig(fill="close", spread="range"),
        VenueConfig(fill="next_typical", spread="range", fee_rate=0.0001),
    ],
    ids=["next-open", "fees", "close", "typical"],
)
def test_the_paper_broker_fills_as_the_backtest_to_the_cent(future_bars: pd.DataFrame, venue: VenueConfig) -> None:
    bars = future_bars.iloc[:3_000].reset_index(drop=True)
    rng = np.random.default_rng(4)
    targets = np.repeat(rng.integers(0, 2, len(bars) // 20), 20).astype(float)
    targets = np.r_[targets, np.zeros(len(bars) - len(targets))]
    expected = run_backtest(bars, Schedule(list(targets)), BacktestConfig(cash=10_000.0, venue=venue, fractional=True))

    broker = PaperBroker(venue, 10_000.0)
    columns = [bars[name].to_numpy() for name in ("open", "high", "low", "close")]
    for t, stamp in enumerate(bars["timestamp"]):
        broker.on_bar("FUT", stamp, *(float(column[t]) for column in columns))
        held = broker.positions.get("FUT", 0.0)
        if targets[t] > 0 and held == 0.0:
            broker.submit(f"o{t}", "FUT", notional=broker.cash)
        elif targets[t] == 0 and held > 0.0:
            broker.submit(f"o{t}", "FUT", quantity=-held)
    got = [(f.quantity, f.price, f.fee) for f in broker.fills]
    want = [(f.quantity, f.price, f.fee) for f in expected.fills]
    assert len(got) == len(want) > 20
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12)
    final = broker.equity({"FUT": float(bars["close"].iloc[-1])})
    assert final == pytest.approx(expected.final_equity, abs=0.005)  # to the cent


def test_a_repeated_order_id_is_ignored_and_bad_input_refused() -> None:
    broker = PaperBroker(VenueConfig(fill="next_open", spread="none"), 1_000.0)
    stamp = pd.Timestamp("2024-01-02 14:30", tz="UTC")
    broker.on_bar("X", stamp, 10.0, 10.5, 9.5, 10.0)
    assert broker.submit("a", "X", quantity=5)
    assert not broker.submit("a", "X", quantity=5)  # a retry after a crash: the same id, no second order
    fills = broker.on_bar("X", stamp + pd.Timedelta(minutes=1), 11.0, 11.5, 10.5, 11.0)
    assert [(f.quantity, f.price) for f in fills] == [(5, 11.0)] and broker.cash == 1_000.0 - 55.0
    with pytest.raises(InputError, match="either quantity"):
        broker.submit("b", "X")
    with pytest.raises(InputError, match="notional"):
        broker.submit("c", "X", notional=-1.0)
    with pytest.raises(InputError, match="close is nan"):
        broker.on_bar("X", stamp + pd.Timedelta(minutes=2), 11.0, 11.5, 10.5, math.nan)
    with pytest.raises(InputError, match="participation"):
        PaperBroker(VenueConfig(participation=0.1), 1_000.0)

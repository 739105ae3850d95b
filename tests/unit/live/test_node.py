"""Parity: the day-trading decision path driven bar by bar through the node, with the paper broker
and the order journal, makes the backtest's trades and ends with its equity to the cent, on the
real one-minute sample's 11 test sessions, under next-open fills with a spread and slippage and
under the optimistic same-bar close."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.unit.desks.day_trading.test_backtest import random_policy
from tests.unit.live.helpers import feed

from tradebrain.desks.day_trading.backtest import backtest_days
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.decision import DecisionPath
from tradebrain.live.decisions import DecisionLog, model_hash, read_log, verify_log
from tradebrain.live.node import TradingNode
from tradebrain.live.orders import OrderJournal
from tradebrain.live.paper import PaperBroker
from tradebrain.market.venue import VenueConfig


# A fixed spread: the range spread of a run's first two bars needs the bars before them, which the
# node has (it is fed from the start, for the features' warm-up) and a backtest of the test sessions
# does not; the rule itself is the same (tests/unit/live/test_paper.py checks it bar for bar).
@pytest.mark.parametrize(
    "venue",
    [
        VenueConfig(fill="next_open", spread="fixed", spread_bps=1.0, slippage_bps=0.5),
        VenueConfig(fill="close", spread="none"),
    ],
    ids=["next-open", "close"],
)
def test_the_node_trades_the_backtest_to_the_cent(
    future_bars: pd.DataFrame, future_days: list[TradingDay], venue: VenueConfig, tmp_path: Path
) -> None:
    config = DayTradingEnvConfig(commission=0.0001, venue=venue)
    policy = random_policy(len(config.features) + 2, seed=3)
    test_days = future_days[30:]
    expected = backtest_days(future_bars, test_days, policy, config, compiled=False)

    broker = PaperBroker(venue.model_copy(update={"fee_rate": config.commission}), config.cash)
    journal = OrderJournal.load(tmp_path / "orders.jsonl", fsync=False)
    node = TradingNode("daytrading", "FUT", DecisionPath(policy, "FUT", config, fast=False), broker, journal)
    feed(node, future_bars, test_days)
    fills = [(f.quantity, f.price, f.fee) for f in broker.fills]
    want = [(f.quantity, f.price, f.fee) for f in expected.fills]
    assert len(fills) == len(want) > 2 * len(test_days)
    np.testing.assert_allclose(np.array(fills), np.array(want), rtol=1e-9)
    assert broker.cash == pytest.approx(expected.final_equity, abs=0.005)  # flat at the last close: all cash
    assert not journal.open_orders() and len(journal.orders) == len(fills)


def test_every_decision_is_logged_and_the_log_verifies_against_its_model(
    future_bars: pd.DataFrame, future_days: list[TradingDay], tmp_path: Path
) -> None:
    config = DayTradingEnvConfig(commission=0.0001)
    policy = random_policy(len(config.features) + 2, seed=5)
    days = future_days[30:32]
    log = DecisionLog(tmp_path / "log", batch=200)
    broker = PaperBroker(config.venue.model_copy(update={"fee_rate": config.commission}), config.cash)
    journal = OrderJournal.load(tmp_path / "orders.jsonl", fsync=False)
    node = TradingNode("daytrading", "FUT", DecisionPath(policy, "FUT", config), broker, journal, log=log)
    feed(node, future_bars, days)
    log.close()
    records = read_log(tmp_path / "log")
    assert len(records) == sum(day.bars for day in days) == log.written  # holds included
    assert records["model"].nunique() == 1 and records["model"].iloc[0] == model_hash(policy)
    probabilities = np.stack(records["probabilities"].to_numpy())
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert (probabilities[~np.stack(records["mask"].to_numpy())] == 0).all()  # masked actions have no mass
    assert set(records.loc[records["order_id"] != "", "order_id"]) <= set(journal.orders)
    assert verify_log(tmp_path / "log", policy).empty
    other = random_policy(len(config.features) + 2, seed=6)
    assert len(verify_log(tmp_path / "log", other)) > 0  # another model is caught

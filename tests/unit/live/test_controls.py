"""The node's controls: a daily-loss breach flattens within the bar and the kill switch holds
after a restart until `resume`; liquidate sells at the next bar's close and stops; the notional
cap refuses orders, logged with the reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.unit.desks.day_trading.test_backtest import random_policy
from tests.unit.live.helpers import feed

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.decision import DecisionPath
from tradebrain.live.controls import NodeControls
from tradebrain.live.decisions import DecisionLog, read_log
from tradebrain.live.node import TradingNode
from tradebrain.live.orders import OrderJournal
from tradebrain.live.paper import PaperBroker
from tradebrain.risk.gate import RiskGate
from tradebrain.risk.limits import RiskLimits

CONFIG = DayTradingEnvConfig(commission=0.0001)


def make_node(tmp_path: Path, gate: RiskGate | None = None, controls: NodeControls | None = None,
              log: DecisionLog | None = None, seed: int = 3) -> TradingNode:  # fmt: skip
    policy = random_policy(len(CONFIG.features) + 2, seed=seed)
    broker = PaperBroker(CONFIG.venue.model_copy(update={"fee_rate": CONFIG.commission}), CONFIG.cash)
    journal = OrderJournal.load(tmp_path / "orders.jsonl", fsync=False)
    strategy = DecisionPath(policy, "FUT", CONFIG, gate=gate)
    return TradingNode("daytrading", "FUT", strategy, broker, journal, log=log, gate=gate, controls=controls)


def test_a_daily_loss_breach_flattens_in_the_bar_and_the_latch_survives_a_restart(
    future_bars: pd.DataFrame, future_days: list[TradingDay], tmp_path: Path
) -> None:
    day = future_days[30]
    path = tmp_path / "controls.json"
    gate = RiskGate(RiskLimits(max_daily_loss_pct=0.001))
    node = make_node(tmp_path, gate, NodeControls.load(path))
    breach = None
    starts = {day.timestamps[0]: day.bars}
    columns = [future_bars[name].to_numpy(dtype=float) for name in ("open", "high", "low", "close", "volume")]
    for i, stamp in enumerate(future_bars["timestamp"]):
        if stamp > day.timestamps[-1]:
            break
        if stamp in starts:
            node.start_session(starts[stamp])
        node.on_bar(stamp, *(float(column[i]) for column in columns))
        if gate.halted_rule(stamp) is not None:
            breach = stamp
            break
    assert breach is not None, "the session never lost 0.1%: pick a tighter limit"
    assert node.broker.positions.get("FUT", 0.0) == 0.0  # flattened within the bar
    assert any(order.reason == "risk flatten" for order in node.journal.orders.values())
    orders_before = len(node.journal.orders)

    restarted_gate = RiskGate(RiskLimits(max_daily_loss_pct=0.001))  # a fresh process: a fresh gate
    controls = NodeControls.load(path)
    restarted = make_node(tmp_path, restarted_gate, controls)
    assert restarted_gate.halted_rule(breach) is not None  # the latch held
    rest = future_bars[(future_bars["timestamp"] > breach) & (future_bars["timestamp"] <= day.timestamps[-1])]
    restarted.strategy.start_session(len(rest))
    columns = [rest[name].to_numpy(dtype=float) for name in ("open", "high", "low", "close", "volume")]
    for i, stamp in enumerate(rest["timestamp"]):
        restarted.on_bar(stamp, *(float(column[i]) for column in columns))
    assert len(restarted.journal.orders) == orders_before  # no new risk for the rest of the day
    controls.resume(restarted_gate)
    assert restarted_gate.halted_rule(breach) is None and NodeControls.load(path).mode == "running"


def test_liquidate_sells_at_the_next_close_and_stops(
    future_bars: pd.DataFrame, future_days: list[TradingDay], tmp_path: Path
) -> None:
    day = future_days[30]
    controls = NodeControls.load(tmp_path / "controls.json")
    node = make_node(tmp_path, controls=controls)
    stamps = list(day.timestamps)
    cut = stamps[50]
    feed(node, future_bars, [day], until=cut)
    for stamp in stamps[stamps.index(cut) + 1 :]:  # find a bar holding a position
        if node.broker.positions.get("FUT", 0.0) > 0:
            break
        row = future_bars.loc[future_bars["timestamp"] == stamp].iloc[0]
        node.on_bar(stamp, row.open, row.high, row.low, row.close, row.volume)
        cut = stamp
    assert node.broker.positions.get("FUT", 0.0) > 0
    controls.liquidate("end of test")
    later = future_bars[(future_bars["timestamp"] > cut) & (future_bars["timestamp"] <= day.timestamps[-1])]
    rows = list(later.itertuples(index=False))
    node.on_bar(rows[0].timestamp, rows[0].open, rows[0].high, rows[0].low, rows[0].close, rows[0].volume)
    assert node.broker.positions.get("FUT", 0.0) == 0.0  # sold by the next bar's close (or its open, if a sell was due)
    assert NodeControls.load(tmp_path / "controls.json").mode == "stopped"
    orders = len(node.journal.orders)
    for row in rows[1:]:
        node.on_bar(row.timestamp, row.open, row.high, row.low, row.close, row.volume)
    assert len(node.journal.orders) == orders and node.broker.positions.get("FUT", 0.0) == 0.0  # stopped


def test_the_notional_cap_refuses_orders_and_says_why(
    future_bars: pd.DataFrame, future_days: list[TradingDay], tmp_path: Path
) -> None:
    log = DecisionLog(tmp_path / "log")
    node = make_node(tmp_path, controls=NodeControls.load(tmp_path / "c.json", max_notional=100.0), log=log)
    feed(node, future_bars, [future_days[30]], until=future_days[30].timestamps[-1])
    log.close()
    assert not node.journal.orders and not node.broker.fills
    refused = read_log(tmp_path / "log").query("verdict == 'refused by the node'")
    assert len(refused) > 0 and refused["reason"].str.contains("above the cap").all()
    with pytest.raises(InputError, match="max_notional"):
        NodeControls.load(tmp_path / "d.json", max_notional=0.0)

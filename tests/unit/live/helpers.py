"""What the live node's tests share: feeding a node the real bars, session by session."""

from __future__ import annotations

import pandas as pd

from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.live.node import TradingNode


def feed(
    node: TradingNode, bars: pd.DataFrame, days: list[TradingDay], until: pd.Timestamp | None = None
) -> pd.Timestamp | None:
    """Every bar up to `until` (default: the last day's close; the features warm up on the earlier
    bars), a session started on each day's first bar. Returns the last bar fed."""
    until = days[-1].timestamps[-1] if until is None else until
    starts = {day.timestamps[0]: day.bars for day in days}
    columns = [bars[name].to_numpy(dtype=float) for name in ("open", "high", "low", "close", "volume")]
    last = None
    for i, stamp in enumerate(bars["timestamp"]):
        if stamp > until:
            break
        if stamp in starts:
            node.start_session(starts[stamp])
        node.on_bar(stamp, *(float(column[i]) for column in columns))
        last = stamp
    return last

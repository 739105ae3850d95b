"""Where the provider's live bars come from: one upstream connection per broker for every symbol.

A `LiveSource` holds that connection: the provider subscribes and unsubscribes symbols on it,
reads the bars it yields as they arrive, and, after a reconnect or a stale feed, asks its
`history` for the range it missed (the backfill). Implementations: `ReplaySource` (stored or CSV
bars at a chosen speed) and `SyntheticSource` (the synthetic intraday generator) here, and
`AlpacaLiveSource` (alpaca-py's websocket and historical API) in alpaca_live.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

import pandas as pd

HistoryFetch = Callable[[str, pd.Timestamp, pd.Timestamp], pd.DataFrame]
"""The broker's history: bars of a symbol with start <= timestamp < end, in the bar schema."""


class LiveSource(Protocol):
    """One upstream connection for all symbols (see the module docstring).

    `bars()` yields bar tables in the schema (data/schema.py), each holding one or more new bars of
    any subscribed symbols, in time order per symbol, until `close()`; it survives the upstream's
    disconnects itself (reconnecting with backoff and jitter) and then yields what it reconnected
    to. `history` is None for a source without a historical API (the provider cannot backfill it).
    """

    provider: str
    history: HistoryFetch | None

    async def subscribe(self, symbols: Sequence[str]) -> None: ...

    async def unsubscribe(self, symbols: Sequence[str]) -> None: ...

    def bars(self) -> AsyncIterator[pd.DataFrame]: ...

    async def close(self) -> None: ...

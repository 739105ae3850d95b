"""The platform's async client: history, live bars, subscriptions and feeds over the bus.

    client = PlatformClient(bus)
    frame = await client.history("AAPL", "2024-01-02", "2024-01-03")
    await client.subscribe(["AAPL", "MSFT"])
    async for bar in client.stream("AAPL"):
        ...

Results are typed: history is a validated bar table (data/schema.py), stream yields `Bar` records.
The stream deduplicates by timestamp and fills its own gaps: when a bar arrives more than one bar
interval after the previous one (a dropped connection, a restart), the missing range is asked
from history first and yielded in order, so a subscriber sees every bar once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tradebrain.core.errors import InputError, TradebrainError
from tradebrain.data.schema import validate_bars
from tradebrain.data.store.base import empty_bars, utc_bound
from tradebrain.platform.bus import Bus
from tradebrain.platform.codec import Bars, Payload, bars_table, decode, encode
from tradebrain.platform.subjects import (
    FEEDS,
    PROVIDER_HISTORY,
    STORAGE_HISTORY,
    SUBSCRIBE,
    UNSUBSCRIBE,
    check_symbol,
    stream_filter,
)

HISTORY_SUBJECTS = {"provider": PROVIDER_HISTORY, "storage": STORAGE_HISTORY}
ONE_MINUTE = pd.Timedelta(minutes=1)


class PlatformError(TradebrainError):
    """The platform refused a request (its message says why)."""


@dataclass(frozen=True)
class Bar:
    """One validated bar of the stream."""

    symbol: str
    provider: str
    timestamp: pd.Timestamp
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float


def _records(bars: Bars) -> list[Bar]:
    stamps = pd.to_datetime(bars.timestamp, utc=True)
    return [
        Bar(bars.symbol, bars.provider, stamps[i], float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
            float(bars.close[i]), float(bars.volume[i]), float(bars.vwap[i]))
        for i in range(len(bars))
    ]  # fmt: skip


class PlatformClient:
    """Requests and streams over `bus` (connected by the caller); `timeout` seconds per reply."""

    def __init__(self, bus: Bus, timeout: float = 10.0, bar_interval: pd.Timedelta = ONE_MINUTE) -> None:
        self.bus = bus
        self.timeout = timeout
        self.bar_interval = bar_interval

    async def _ask(self, subject: str, **fields: Any) -> AsyncIterator[Bars | Payload]:
        async for chunk in self.bus.request(subject, encode("cmd", **fields), self.timeout):
            payload = decode(chunk, subject)
            if isinstance(payload, Payload) and payload.type == "error":
                raise PlatformError(str(payload.fields.get("message", "refused")))
            yield payload
            if isinstance(payload, Payload) and payload.type in ("end", "feeds"):
                return

    async def history(
        self,
        symbol: str,
        start: pd.Timestamp | str,
        end: pd.Timestamp | str,
        provider: str | None = None,
        source: str = "provider",
    ) -> pd.DataFrame:
        """Bars of `symbol` with start <= timestamp < end (UTC; naive times are refused), from the
        provider (store first, the broker for the gaps) or from the storage component only."""
        check_symbol(symbol)
        low, high = utc_bound(start, "start"), utc_bound(end, "end")
        if low is None or high is None or not low < high:
            raise InputError(f"history needs start < end (got start={start!r}, end={end!r}); swap them?")
        if source not in HISTORY_SUBJECTS:
            raise InputError(f"source must be one of {sorted(HISTORY_SUBJECTS)}, got {source!r}")
        fields: dict[str, Any] = {"symbol": symbol, "start": low.value, "end": high.value}
        if provider is not None:
            fields["provider"] = provider
        parts: list[Bars] = []
        expected = None
        async for payload in self._ask(HISTORY_SUBJECTS[source], **fields):
            if isinstance(payload, Bars):
                parts.append(payload)
            elif payload.type == "end":
                expected = int(payload.fields.get("n", -1))
        received = sum(len(part) for part in parts)
        if expected is None or expected != received:
            raise PlatformError(f"history of {symbol} came incomplete: {received} bars of {expected}; ask again")
        if not parts:
            return empty_bars()
        return validate_bars(bars_table(parts))

    async def stream(
        self, symbol: str, provider: str = "*", backfill: bool = True, since: pd.Timestamp | None = None
    ) -> AsyncIterator[Bar]:
        """Live bars of `symbol` (from any provider unless named), each once, in time order; with
        `backfill`, a gap of more than one bar interval is first filled from history. `since`: the
        last bar this subscriber already has (a client coming back after a dropped connection), so
        the first live bar's gap back to it is filled too. Subscribes on the first iteration;
        `open_stream` subscribes at once (no bar published after it returns is missed)."""
        stream = await self.open_stream(symbol, provider, backfill, since)
        async for bar in stream:
            yield bar

    async def open_stream(
        self, symbol: str, provider: str = "*", backfill: bool = True, since: pd.Timestamp | None = None
    ) -> AsyncIterator[Bar]:
        """`stream`, already subscribed when this returns."""
        check_symbol(symbol)
        subscription = await self.bus.subscribe(stream_filter("bar", provider, symbol))

        async def bars() -> AsyncIterator[Bar]:
            last: pd.Timestamp | None = since
            try:
                async for message in subscription:
                    payload = decode(message.data, message.subject)
                    if not isinstance(payload, Bars):
                        continue
                    for bar in _records(payload):
                        if last is not None and bar.timestamp <= last:
                            continue  # a repeat (redelivery, a backfill that overlapped)
                        if backfill and last is not None and bar.timestamp - last > self.bar_interval:
                            missing = await self.history(symbol, last + self.bar_interval, bar.timestamp,
                                                         None if provider == "*" else provider)  # fmt: skip
                            for row in missing.itertuples(index=False):
                                yield Bar(symbol, bar.provider, row.timestamp, row.open, row.high, row.low, row.close,
                                          row.volume, row.vwap)  # fmt: skip
                        last = bar.timestamp
                        yield bar
            finally:
                await subscription.close()

        return bars()

    async def subscribe(self, symbols: Sequence[str], provider: str | None = None) -> list[str]:
        """Ask the provider to stream `symbols` (one upstream connection serves them all)."""
        return await self._command(SUBSCRIBE, symbols, provider)

    async def unsubscribe(self, symbols: Sequence[str], provider: str | None = None) -> list[str]:
        """Ask the provider to stop streaming `symbols`."""
        return await self._command(UNSUBSCRIBE, symbols, provider)

    async def _command(self, subject: str, symbols: Sequence[str], provider: str | None) -> list[str]:
        fields: dict[str, Any] = {"symbols": [check_symbol(s) for s in symbols]}
        if provider is not None:
            fields["provider"] = provider
        async for payload in self._ask(subject, **fields):
            if isinstance(payload, Payload) and payload.type == "end":
                return list(payload.fields.get("symbols", []))
        raise PlatformError(f"no answer to {subject}")

    async def feeds(self) -> pd.DataFrame:
        """The provider's feeds: provider, symbol, bars published, last bar time, backfills."""
        async for payload in self._ask(FEEDS):
            if isinstance(payload, Payload) and payload.type == "feeds":
                frame = pd.DataFrame(payload.fields.get("feeds", []),
                                     columns=["provider", "symbol", "bars", "last", "backfills"])  # fmt: skip
                frame["last"] = pd.to_datetime(frame["last"], utc=True)
                return frame
        raise PlatformError("no answer to the feeds request")

"""The data provider: one upstream connection per source for every symbol, fanned out on the bus.

It publishes each live bar on its symbol's stream subject (one message per bar, with the bar's id
so JetStream drops a repeat), subscribes and unsubscribes symbols on request, lists its feeds,
and answers historical requests in chunks, several at once, without holding up the live pumps.
History comes from the store when one is configured, fetching from the source only the ranges
the store lacks (data/store/cache.py `CachedBarSource`), or straight from the source.

Gaps: when a source reconnects (its `on_reconnect` hook is wired to the provider), or a feed has
had no bar for `stale_factor` times its interval while the `calendar`'s session is open (always,
without a calendar), the provider asks the source's history for the range since the feed's last
bar and publishes it (the backfill); ids and timestamps make a bar that also arrives live count once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pandas as pd

from tradebrain.core.errors import InputError, TradebrainError
from tradebrain.data.store.base import BarStore
from tradebrain.data.store.cache import CachedBarSource
from tradebrain.platform.bus import Bus, Message
from tradebrain.platform.codec import (
    Bars,
    MessageError,
    Payload,
    bars_from_frame,
    decode,
    encode,
    encode_bars,
    split_by_symbol,
)
from tradebrain.platform.sources import LiveSource
from tradebrain.platform.subjects import (
    FEEDS,
    PROVIDER_HISTORY,
    SUBSCRIBE,
    UNSUBSCRIBE,
    check_symbol,
    stream_subject,
)

log = logging.getLogger(__name__)

ONE_MINUTE = pd.Timedelta(minutes=1)
CHUNK_BARS = 10_000  # bars per history chunk: about 560 kB, under NATS's default 1 MB payload


@dataclass
class Feed:
    """One (provider, symbol) stream: bars published, the last bar's time, when it arrived (loop time)."""

    provider: str
    symbol: str
    bars: int = 0
    last: pd.Timestamp | None = None
    arrived: float | None = None
    backfills: int = 0

    def record(self) -> dict[str, object]:
        """JSON-ready, for the feeds reply."""
        return {"provider": self.provider, "symbol": self.symbol, "bars": self.bars,
                "last": None if self.last is None else self.last.isoformat(), "backfills": self.backfills}  # fmt: skip


def bar_messages(bars: Bars) -> list[tuple[bytes, str]]:
    """(payload, id) of each bar as its own message."""
    ids = bars.message_ids()
    out = []
    for i in range(len(bars)):
        out.append((encode_bars(bars.rows(i, i + 1)), ids[i]))
    return out


def chunk_messages(bars: Bars, chunk_bars: int = CHUNK_BARS) -> list[tuple[bytes, str]]:
    """(payload, id) of runs of up to `chunk_bars` bars, each id naming its first and last bar."""
    out = []
    for i in range(0, len(bars), chunk_bars):
        part = bars.rows(i, i + chunk_bars)
        first, last = int(part.timestamp[0]), int(part.timestamp[-1])
        out.append((encode_bars(part), f"{bars.provider}:{bars.symbol}:{first}-{last}"))
    return out


def history_chunks(frame: pd.DataFrame, provider: str, chunk_bars: int = CHUNK_BARS) -> list[bytes]:
    """A symbol's bars as "bars" messages of at most `chunk_bars`, then the "end" marker with the count."""
    bars = bars_from_frame(frame, provider)  # the columns once, then views of them per chunk
    chunks = [encode_bars(bars.rows(i, i + chunk_bars)) for i in range(0, len(bars), chunk_bars)]
    return [*chunks, encode("end", n=len(frame))]


def history_request(payload: Bars | Payload, subject: str) -> tuple[str, pd.Timestamp, pd.Timestamp, str | None]:
    """(symbol, start, end, provider) of a history request, refused with InputError when malformed."""
    if not isinstance(payload, Payload) or payload.type != "cmd":
        raise MessageError(f"a history request on {subject!r} must be a 'cmd' message")
    fields = payload.fields
    try:
        symbol = check_symbol(fields["symbol"])
        start = pd.Timestamp(int(fields["start"]), tz="UTC")
        end = pd.Timestamp(int(fields["end"]), tz="UTC")
    except (KeyError, TypeError, ValueError) as error:
        raise MessageError(f"a history request on {subject!r} needs symbol, start and end (ns): {error}") from None
    if not start < end:
        raise InputError(f"start {start} is not before end {end}; give start < end")
    provider = fields.get("provider")
    return symbol, start, end, None if provider is None else str(provider)


class DataProvider:
    """The provider process's work (see the module docstring), on `bus`, for `sources`."""

    def __init__(
        self,
        bus: Bus,
        sources: Sequence[LiveSource],
        store: BarStore | None = None,
        bar_interval: pd.Timedelta = ONE_MINUTE,
        stale_factor: float = 2.0,
        stale_seconds: float | None = None,
        calendar: str | None = None,
    ) -> None:
        if not sources:
            raise InputError("the provider needs at least one source (replay, synthetic or alpaca)")
        self.bus = bus
        self.sources = {source.provider: source for source in sources}
        self.store = store
        self.bar_interval = bar_interval
        self.stale_seconds = stale_seconds if stale_seconds is not None else stale_factor * bar_interval.total_seconds()
        self.calendar = calendar
        self.feeds: dict[tuple[str, str], Feed] = {}
        self.rejected = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._backfilling: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve the commands and history, and pump every source onto the bus."""
        await self.bus.serve(SUBSCRIBE, self._on_subscribe)
        await self.bus.serve(UNSUBSCRIBE, self._on_unsubscribe)
        await self.bus.serve(FEEDS, self._on_feeds)
        await self.bus.serve(PROVIDER_HISTORY, self._on_history)
        for source in self.sources.values():
            if hasattr(source, "on_reconnect") and getattr(source, "on_reconnect", None) is None:
                source.on_reconnect = functools.partial(self._reconnected, source.provider)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(source)) for source in self.sources.values()]
        self._tasks.append(loop.create_task(self._watch_stale()))

    async def stop(self) -> None:
        """Stop the pumps and close the sources."""
        for source in self.sources.values():
            await source.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def played_out(self) -> bool:
        """Whether every source's bars have ended (a replay played out; live sources never do)."""
        return bool(self._tasks) and all(task.done() for task in self._tasks[: len(self.sources)])

    async def wait(self) -> None:
        """Until every source's bars have ended (a replay played out)."""
        await asyncio.gather(*self._tasks[: len(self.sources)], return_exceptions=True)

    # ------------------------------------------------------------------ live

    def source(self, provider: str | None) -> LiveSource:
        """The source named `provider` (the only one when None); InputError listing them otherwise."""
        if provider is None and len(self.sources) == 1:
            return next(iter(self.sources.values()))
        if provider not in self.sources:
            raise InputError(f"unknown provider {provider!r}; this provider serves {sorted(self.sources)}")
        return self.sources[provider]

    async def subscribe(self, symbols: Sequence[str], provider: str | None = None) -> list[str]:
        """Start streaming `symbols` from one upstream connection; returns them."""
        source = self.source(provider)
        await source.subscribe([check_symbol(s) for s in symbols])
        for symbol in symbols:
            self.feeds.setdefault((source.provider, symbol), Feed(source.provider, symbol))
        return list(symbols)

    async def _pump(self, source: LiveSource) -> None:
        async for frame in source.bars():
            await self.publish_frame(source.provider, frame)

    async def publish_frame(self, provider: str, frame: pd.DataFrame) -> int:
        """Publish a bar table of any symbols, all in one batch, and update the feeds; returns how
        many bars. A symbol with one new bar (the live case) gets one message with the bar's id; a
        run of bars (a backfill, a fast replay) goes as chunks of up to CHUNK_BARS bars, each with
        the id of its first and last bar, so bulk data moves at store speed; subscribers drop
        repeats by timestamp and the store upserts, so an overlap with single bars is harmless."""
        per_symbol = split_by_symbol(frame, provider)
        batch = []
        now = asyncio.get_running_loop().time()
        count = 0
        for bars in per_symbol:
            subject = stream_subject(provider, "bar", bars.symbol)
            if len(bars) == 1:
                batch += [(subject, data, msg_id) for data, msg_id in bar_messages(bars)]
            else:
                batch += [(subject, data, msg_id) for data, msg_id in chunk_messages(bars)]
            count += len(bars)
            feed = self.feeds.setdefault((provider, bars.symbol), Feed(provider, bars.symbol))
            last = pd.Timestamp(int(bars.timestamp.max()), tz="UTC")
            if feed.last is None or last > feed.last:
                feed.last = last
            feed.bars += len(bars)
            feed.arrived = now
        await self.bus.publish_many(batch)
        return count

    async def publish(self, provider: str, symbol: str, frame: pd.DataFrame) -> int:
        """Publish bars of `symbol` (the bar schema); returns how many."""
        if len(frame) and not (frame["symbol"] == symbol).all():
            raise InputError(f"publish({symbol!r}, ...) was given bars of other symbols; use publish_frame")
        return await self.publish_frame(provider, frame)

    async def backfill(self, provider: str, symbol: str, until: pd.Timestamp | None = None) -> int:
        """Publish the source's history since the feed's last bar (ids drop what was already sent)."""
        source = self.source(provider)
        feed = self.feeds.get((provider, symbol))
        if source.history is None or feed is None or feed.last is None:
            return 0
        start = feed.last + self.bar_interval
        end = until if until is not None else pd.Timestamp.now(tz="UTC")
        if not start < end:
            return 0
        frame = await asyncio.to_thread(source.history, symbol, start, end)
        feed.backfills += 1
        if frame is None or not len(frame):
            return 0
        return await self.publish(provider, symbol, frame)

    async def _reconnected(self, provider: str, last: pd.Timestamp | None) -> None:
        """A source's reconnect hook (it passes the last bar it saw; the feeds know more precisely)."""
        await self.on_reconnect(provider)

    async def on_reconnect(self, provider: str) -> None:
        """A source reconnected: backfill every one of its feeds."""
        for name, symbol in list(self.feeds):
            if name == provider:
                await self.backfill(name, symbol)

    async def _watch_stale(self) -> None:
        loop = asyncio.get_running_loop()
        calendar = None
        if self.calendar is not None:
            import exchange_calendars

            calendar = exchange_calendars.get_calendar(self.calendar)
        while True:
            await asyncio.sleep(max(self.stale_seconds / 2, 0.05))
            if calendar is not None and not calendar.is_open_on_minute(pd.Timestamp.now(tz="UTC").floor("min")):
                continue  # outside the session silence is normal
            now = loop.time()
            for key, feed in list(self.feeds.items()):
                if feed.arrived is None or key in self._backfilling or now - feed.arrived < self.stale_seconds:
                    continue
                self._backfilling.add(key)
                try:
                    await self.backfill(*key)
                except TradebrainError as error:
                    log.warning("backfill of %s %s failed: %s", key[0], key[1], error)
                finally:
                    feed.arrived = loop.time()  # wait a whole stale period before trying again
                    self._backfilling.discard(key)

    # ------------------------------------------------------------------ requests

    async def _on_subscribe(self, message: Message) -> AsyncIterator[bytes]:
        yield await self._command(message, subscribe=True)

    async def _on_unsubscribe(self, message: Message) -> AsyncIterator[bytes]:
        yield await self._command(message, subscribe=False)

    async def _command(self, message: Message, subscribe: bool) -> bytes:
        try:
            payload = decode(message.data, message.subject)
            if not isinstance(payload, Payload) or payload.type != "cmd":
                raise MessageError(f"a command on {message.subject!r} must be a 'cmd' message")
            symbols = [check_symbol(s) for s in payload.fields.get("symbols", [])]
            provider = payload.fields.get("provider")
            if subscribe:
                await self.subscribe(symbols, provider)
            else:
                await self.source(provider).unsubscribe(symbols)
        except TradebrainError as error:
            log.warning("refused %s: %s", message.subject, error)
            return encode("error", message=str(error))
        return encode("end", n=len(symbols), symbols=symbols)

    async def _on_feeds(self, message: Message) -> AsyncIterator[bytes]:
        yield encode("feeds", feeds=[feed.record() for feed in self.feeds.values()], providers=sorted(self.sources))

    async def _on_history(self, message: Message) -> AsyncIterator[bytes]:
        try:
            symbol, start, end, provider = history_request(decode(message.data, message.subject), message.subject)
            source = self.source(provider)
            frame = await asyncio.to_thread(self._history, source, symbol, start, end)
        except TradebrainError as error:
            log.warning("refused history request on %s: %s", message.subject, error)
            yield encode("error", message=str(error))
            return
        for chunk in await asyncio.to_thread(history_chunks, frame, source.provider):
            yield chunk

    def _history(self, source: LiveSource, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        known = getattr(source, "symbols", None)
        if known is not None and symbol not in known and (self.store is None or self.store.coverage(symbol) is None):
            raise InputError(f"unknown symbol {symbol!r} for provider {source.provider!r}; it has {list(known)[:20]}")
        if self.store is not None and source.history is not None:
            return CachedBarSource(self.store, source.history, self.bar_interval).get(symbol, start, end)
        if self.store is not None:
            return self.store.read(symbol, start, end)
        if source.history is not None:
            return source.history(symbol, start, end)
        raise InputError(f"provider {source.provider!r} has no history and no store is configured")

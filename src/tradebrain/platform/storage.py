"""The storage component: every bar on the bus, kept once in the store, and history served from it.

It reads every provider's bar stream through one durable consumer, writes in batches (the
store's upsert on (symbol, timestamp) makes a repeat harmless) and acknowledges a batch only
after its write returned, so a process killed mid-stream loses nothing (the unacknowledged bars
come again) and duplicates nothing (they upsert onto themselves). A message it cannot read is
logged with its subject, counted in `rejected` and acknowledged, so one bad message never blocks
the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from tradebrain.core.errors import TradebrainError
from tradebrain.data.store.base import BarStore
from tradebrain.platform.bus import Bus, BusError, Message, Subscription
from tradebrain.platform.codec import Bars, MessageError, bars_table, decode, encode
from tradebrain.platform.provider import history_chunks, history_request
from tradebrain.platform.subjects import STORAGE_HISTORY, parse_stream_subject, stream_filter

log = logging.getLogger(__name__)


class StorageService:
    """Persist the bar streams of `bus` into `store` and serve `storage.history.bar` from it.

    `durable`: the consumer's name (one per storage deployment: its progress survives restarts).
    `batch_bars` / `flush_seconds`: a batch is written when it holds that many bars or when no
    new bar came for that long. `provider`: keep only that provider's bars ("*": every provider's)."""

    def __init__(
        self,
        bus: Bus,
        store: BarStore,
        durable: str = "storage",
        batch_bars: int = 20_000,
        flush_seconds: float = 0.2,
        provider: str = "*",
    ) -> None:
        self.bus = bus
        self.pattern = stream_filter("bar", provider)
        self.store = store
        self.durable = durable
        self.batch_bars = batch_bars
        self.flush_seconds = flush_seconds
        self.written = 0
        self.rejected = 0
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()

    async def start(self, consume: bool = True) -> None:
        """Serve history and (unless `consume` is off: a read-only replica) consume the bar streams."""
        await self.bus.serve(STORAGE_HISTORY, self._on_history)
        if consume:
            self._subscription = await self.bus.subscribe(self.pattern, durable=self.durable)
            self._task = asyncio.get_running_loop().create_task(self._consume(self._subscription))

    async def stop(self) -> None:
        """Stop consuming (what was not acknowledged comes again on the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(asyncio.CancelledError):
            await self._settle()  # the write in flight finishes and acknowledges its bars
        if self._subscription is not None:
            await self._subscription.close()

    async def _consume(self, subscription: Subscription) -> None:
        pending: list[Message] = []
        batch: list[Bars] = []
        count = 0
        while True:
            try:
                message = await subscription.next(self.flush_seconds if pending else None)
            except BusError:  # quiet for flush_seconds: write what is waiting
                await self._flush(batch, pending)
                await self._settle()
                batch, pending, count = [], [], 0
                self.idle.set()
                continue
            self.idle.clear()
            pending.append(message)
            try:
                payload = decode(message.data, message.subject)
                _, _, symbol = parse_stream_subject(message.subject)
                if not isinstance(payload, Bars) or payload.symbol != symbol:
                    raise MessageError(f"message on {message.subject!r} is not bars of {symbol}")
                batch.append(payload)
                count += len(payload)
            except TradebrainError as error:
                self.rejected += 1
                log.warning("rejected a message on %s: %s", message.subject, error)
            if count >= self.batch_bars:
                await self._flush(batch, pending)
                batch, pending, count = [], [], 0

    async def _flush(self, batch: list[Bars], pending: list[Message]) -> None:
        """Write `batch` and then acknowledge `pending`, in a task, so consuming goes on while the
        store writes; one write at a time, in order (the previous one finishes first)."""
        await self._settle()
        self._writing = asyncio.get_running_loop().create_task(self._write(batch, pending))

    async def _settle(self) -> None:
        """Wait for the write in flight (its failure stops the consumer: nothing unwritten is acknowledged)."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing

    async def _write(self, batch: list[Bars], pending: list[Message]) -> None:
        if batch:
            frame = bars_table(batch).drop_duplicates(["symbol", "timestamp"], keep="last")
            self.written += await asyncio.to_thread(self.store.write, frame)
        for message in pending:  # only after the write: a crash before this re-delivers, never loses
            await message.ack()

    async def _on_history(self, message: Message) -> AsyncIterator[bytes]:
        try:
            symbol, start, end, _ = history_request(decode(message.data, message.subject), message.subject)
            frame = await asyncio.to_thread(self.store.read, symbol, start, end)
            if not len(frame) and self.store.coverage(symbol) is None:
                known = await asyncio.to_thread(self.store.symbols)
                raise TradebrainError(f"unknown symbol {symbol!r}: the store has no bars of it (it has {known[:20]})")
        except TradebrainError as error:
            log.warning("refused history request on %s: %s", message.subject, error)
            yield encode("error", message=str(error))
            return
        for chunk in await asyncio.to_thread(history_chunks, frame, "storage"):
            yield chunk

"""The bus every platform component talks over: publish, subscribe (durable on the data streams),
and chunked request/reply. Two implementations behind one interface: `InProcessBus` (asyncio, the
default, no server) here and `NatsBus` (nats-py, JetStream for the data streams) in nats_bus.py.

Semantics both keep (tests/unit/platform/test_bus_contract.py runs the same cases on each):
- Data subjects (`dataprovider.stream.>`, platform/subjects.py) are persisted in a stream and
  deduplicated by message id: publishing the same id twice delivers it once.
- `subscribe(pattern, durable=name)` on data subjects delivers every stored message the durable
  consumer has not acknowledged yet, then new ones, in publish order; `message.ack()` records
  progress, so a consumer that stops and comes back under the same name resumes where it stopped
  (what a crashed storage process needs). Without `durable`, a subscription sees new messages only.
- `serve(subject, handler)`: every request on `subject` gets the byte strings `handler` yields, in
  order, on the request's own reply subject; `request(subject, data)` iterates over them until the
  caller stops (the codec's "end" message says when) or `timeout` passes without a reply. Requests
  are served concurrently, so a long history never blocks a small one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from tradebrain.core.errors import TradebrainError
from tradebrain.platform.subjects import KINDS, PREFIX, matches

DATA_PREFIX = f"{PREFIX}.stream."
DEDUP_WINDOW = 1_000_000  # message ids remembered per stream (the in-process bus; NATS: a time window)


class BusError(TradebrainError):
    """The bus could not do what was asked: not connected, no responder, a timeout."""


@dataclass
class Message:
    """A message as delivered: subject, payload, the dedup id (data subjects), the reply subject
    (requests) and, on durable subscriptions, the acknowledgement that records progress."""

    subject: str
    data: bytes
    msg_id: str | None = None
    reply: str | None = None
    _ack: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)

    async def ack(self) -> None:
        """Record that this message was handled (durable subscriptions; a no-op otherwise)."""
        if self._ack is not None:
            await self._ack()


class Subscription(Protocol):
    """An async iterator of messages; `close` stops it."""

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def next(self, timeout: float | None = None) -> Message:
        """The next message; BusError after `timeout` seconds without one."""
        ...

    async def close(self) -> None: ...


Handler = Callable[[Message], AsyncIterator[bytes]]
"""A request handler: yields the reply's chunks."""


class Bus(Protocol):
    """The interface of module docstring."""

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, subject: str, data: bytes, msg_id: str | None = None) -> None: ...

    async def publish_many(self, messages: Iterable[tuple[str, bytes, str | None]]) -> None:
        """Publish (subject, data, msg_id) messages in order; like `publish` for each, but a bus may
        send them ahead of their acknowledgements (NATS), so a batch costs far less than as many calls."""
        ...

    async def subscribe(self, pattern: str, durable: str | None = None) -> Subscription: ...

    async def serve(self, subject: str, handler: Handler) -> None: ...

    def request(self, subject: str, data: bytes, timeout: float = 10.0) -> AsyncIterator[bytes]: ...


def is_data_subject(subject: str) -> bool:
    """Whether `subject` belongs to a persisted data stream (bars, news)."""
    if not subject.startswith(DATA_PREFIX):
        return False
    parts = subject.split(".")
    return len(parts) == 5 and parts[3] in KINDS


class _QueueSubscription:
    """A subscription fed through an asyncio queue (the in-process bus)."""

    def __init__(self, bus: InProcessBus, pattern: str, durable: str | None) -> None:
        self.bus = bus
        self.pattern = pattern
        self.durable = durable
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while not self.closed:
            yield await self.queue.get()

    async def next(self, timeout: float | None = None) -> Message:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            raise BusError(f"no message on {self.pattern!r} within {timeout} s") from None

    async def close(self) -> None:
        self.closed = True
        self.bus._drop(self)


class InProcessBus:
    """The bus inside one process: asyncio queues, an in-memory log per data kind with dedup and
    durable consumers. The default: everything runs with no server (`tradebrain platform up`
    without --bus, the tests, the benchmarks)."""

    def __init__(self) -> None:
        self._subscriptions: list[_QueueSubscription] = []
        self._log: list[Message] = []  # every data message, in publish order (sequence = index + 1)
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._acked: dict[str, int] = {}  # durable name -> highest sequence acknowledged
        self._services: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._inboxes = itertools.count()
        self.connected = False

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.connected = False

    def _check(self) -> None:
        if not self.connected:
            raise BusError("the bus is not connected; call `await bus.connect()` first")

    async def publish(self, subject: str, data: bytes, msg_id: str | None = None) -> None:
        """Deliver to every matching subscription; data subjects are logged and deduplicated."""
        self._check()
        message = Message(subject, data, msg_id)
        if is_data_subject(subject):
            if msg_id is not None:
                if msg_id in self._seen:
                    return
                self._seen.add(msg_id)
                self._seen_order.append(msg_id)
                if len(self._seen_order) > DEDUP_WINDOW:
                    self._seen.discard(self._seen_order.popleft())
            self._log.append(message)
            sequence = len(self._log)
            for subscription in self._subscriptions:
                if matches(subscription.pattern, subject):
                    subscription.queue.put_nowait(self._delivered(message, sequence, subscription.durable))
            return
        for subscription in self._subscriptions:
            if matches(subscription.pattern, subject):
                subscription.queue.put_nowait(message)

    async def publish_many(self, messages: Iterable[tuple[str, bytes, str | None]]) -> None:
        """`publish` each (subject, data, msg_id) in order (the interface's batch path)."""
        for subject, data, msg_id in messages:
            await self.publish(subject, data, msg_id)

    def _delivered(self, message: Message, sequence: int, durable: str | None) -> Message:
        if durable is None:
            return message

        async def ack() -> None:
            self._acked[durable] = max(self._acked.get(durable, 0), sequence)

        return Message(message.subject, message.data, message.msg_id, None, ack)

    async def subscribe(self, pattern: str, durable: str | None = None) -> Subscription:
        """Messages on subjects matching `pattern` (NATS wildcards); see the module docstring."""
        self._check()
        subscription = _QueueSubscription(self, pattern, durable)
        if durable is not None:  # what the durable consumer has not acknowledged, then live
            for index in range(self._acked.get(durable, 0), len(self._log)):
                message = self._log[index]
                if matches(pattern, message.subject):
                    subscription.queue.put_nowait(self._delivered(message, index + 1, durable))
        self._subscriptions.append(subscription)
        return subscription

    def _drop(self, subscription: _QueueSubscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    async def serve(self, subject: str, handler: Handler) -> None:
        """Answer requests on `subject` with `handler`'s chunks (one task per request)."""
        self._check()
        self._services[subject] = handler

    def request(self, subject: str, data: bytes, timeout: float = 10.0) -> AsyncIterator[bytes]:
        """The chunks of the reply to a request on `subject`."""
        return self._request(subject, data, timeout)

    async def _request(self, subject: str, data: bytes, timeout: float) -> AsyncIterator[bytes]:
        self._check()
        handler = next((h for s, h in self._services.items() if matches(s, subject)), None)
        if handler is None:
            raise BusError(f"no responder on {subject!r}; is the platform up (`tradebrain platform up`)?")
        inbox = f"_INBOX.{next(self._inboxes)}"
        replies: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def respond() -> None:
            try:
                async for chunk in handler(Message(subject, data, None, inbox)):
                    replies.put_nowait(chunk)
            finally:
                replies.put_nowait(None)

        task = asyncio.get_running_loop().create_task(respond())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(replies.get(), timeout)
                except TimeoutError:
                    raise BusError(f"no reply on {subject!r} within {timeout} s") from None
                if chunk is None:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise BusError(f"the responder on {subject!r} failed: {task.exception()}")
                    return
                yield chunk
        finally:
            if not task.done():
                task.cancel()

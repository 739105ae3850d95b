"""The bus over NATS (nats-py): JetStream keeps the data subjects, core NATS carries the rest.

Same contract as `InProcessBus` (bus.py's module docstring; tests/integration/test_nats_bus.py runs
the shared cases against a real server). How each part maps onto NATS, and why:

Streams. `connect()` makes sure two JetStream streams exist: BARS (`dataprovider.stream.*.bar.*`)
and NEWS (`dataprovider.stream.*.news.*`), file storage, limits retention, discard old. Limits:
seven days and 2 GiB (bars) / 512 MiB (news), whichever comes first. A trading day of minute bars
for 500 symbols with extended hours is ~480k messages of ~250 stored bytes (~120 MB), so a week
fits with room for a benchmark burst, and a storage process that was down over a long weekend
still finds everything it missed. Re-creating a stream with the same settings is a no-op; a stream
found with other settings (an older version of these limits) is updated to these, because the
bus owns these two streams' configuration; settings JetStream cannot change in place (the storage
type) raise a BusError saying how to recreate the stream.

Deduplication. Data messages carry their id in the `Nats-Msg-Id` header; the server drops an id
it has seen within `DUPLICATE_WINDOW` (10 minutes). That covers a provider that reconnects to its
broker and replays the last minutes. The price is server memory for every id in the window:
measured on nats-server 2.9, about 300 bytes per message published (ids and stream cache together;
500k bars took 145 MiB), negligible for live minute bars (500 symbols: ~5,000 ids per window) but
gigabytes for a benchmark that publishes 20k bars/s for ten minutes; that is why the window is
minutes and not a day. The in-process bus counts ids instead (bus.DEDUP_WINDOW).

Publishing. `publish` waits for JetStream's acknowledgement, so the message is stored (or known
to be a duplicate) when it returns: one round trip per message. `publish_many` is the fast path:
it sends up to `publish_window` messages before waiting for any acknowledgement, then waits for
acknowledgements as it goes and for all of them before returning, so the same guarantee holds for
the whole batch at a small fraction of the cost. The trade-off: when it raises (a timeout during
a reconnect, a refused message) some of the batch may be stored and some not; publishing the
batch again is safe because the ids make the repeats duplicates. Non-data subjects go through core
NATS (fire and forget, as on any NATS bus).

Subscribing. Data patterns (under `dataprovider.stream.`) get a JetStream pull consumer per stream
they cover (a pattern over both kinds gets one on each and keeps order within each kind):
- `durable=name`: a durable consumer (explicit ack, deliver all not yet acknowledged, `ACK_WAIT`),
  so a process that stops or crashes resumes after its last ack. `close()` gives back ("naks") the
  messages it received and did not acknowledge, so the next subscriber gets them immediately and in
  order; after a crash the server redelivers them once `ACK_WAIT` passes. `close()` first waits
  for its open pull requests to end (up to `PULL_EXPIRES`), which works around a nats-server bug
  before 2.10.14 (`_Pull.settle`). The subscription hands each message out once: it drops a
  redelivery of a message it still holds or acknowledged recently (an ack lost with a connection).
- no durable: an ephemeral consumer delivering new messages only (no acks), deleted by `close()`
  or by the server `EPHEMERAL_IDLE` after the process vanished.
Messages are pulled in batches of `PULL_BATCH` (a new batch when the subscriber's queue runs low, so
a slow subscriber holds at most a couple of batches). A pull request lives `PULL_EXPIRES` seconds;
after a reconnect the subscription pulls again at once, and if the consumer vanished meanwhile (an
ephemeral one idle too long, a durable one deleted by hand) it is recreated from the stream
sequence after the last message received. Known limit: messages the server wrote to the socket in
the instant the connection dropped never reach the client; JetStream redelivers them after
`ACK_WAIT` (durable) so nothing is lost, but they then arrive after later ones, and an ephemeral
subscription (no acks) loses them. Other patterns are core subscriptions;
a core pattern that also covers data subjects (`>`) sees their raw publishes, repeats included.

Request/reply. `serve` subscribes in the queue group `queue_group`, so several storage processes
share the requests; each request runs in its own task and its chunks go to the request's reply
subject, followed by an empty message whose `Tradebrain-Reply` header says `end` (or `error` with
the failure in `Tradebrain-Error`), which is what lets `request` stop and report like the
in-process bus. `request` learns there is no responder from the server's 503 status, and raises a
BusError naming the subject when no chunk comes within `timeout`. A chunk cannot exceed the
server's `max_payload` (1 MiB by default, about 18,000 bars in the codec): size chunks with
`NatsBus.max_payload`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from tradebrain.platform.bus import DATA_PREFIX, BusError, Handler, Message, Subscription, is_data_subject
from tradebrain.platform.subjects import KINDS, stream_name

log = logging.getLogger(__name__)

DEFAULT_URL = "nats://127.0.0.1:4222"
DUPLICATE_WINDOW = 600.0  # seconds JetStream remembers a message id (see the module docstring)
STREAM_MAX_AGE = 7 * 24 * 3600.0  # seconds a data message stays in its stream
STREAM_MAX_BYTES = {"bar": 2 * 1024**3, "news": 512 * 1024**2}
ACK_WAIT = 30.0  # seconds before JetStream redelivers a message a durable consumer did not acknowledge
MAX_ACK_PENDING = 50_000  # unacknowledged messages a durable consumer may hold (a storage batch fits)
ACKED_REMEMBERED = 100_000  # acknowledged messages a durable subscription remembers, to drop their redelivery
EPHEMERAL_IDLE = 300.0  # seconds before the server deletes an ephemeral consumer nobody pulls from
PULL_BATCH = 500  # messages per pull request
PULL_EXPIRES = 1.0  # seconds a pull request waits on the server for messages (module docstring)
MSG_ID_HEADER = "Nats-Msg-Id"
REPLY_HEADER = "Tradebrain-Reply"  # on the empty message closing a reply: "end" or "error"
ERROR_HEADER = "Tradebrain-Error"
_JS_API = "$JS.API"
_CONSUMER_NAME = re.compile(r"[^A-Za-z0-9_-]")
_SUB_PENDING_BYTES = 1024**3  # what a subscription may buffer client-side before nats-py drops messages


def consumer_name(durable: str) -> str:
    """`durable` as a JetStream consumer name: letters, digits, '-' and '_' kept, anything else '_'."""
    if not isinstance(durable, str) or not durable:
        raise BusError(f"durable name {durable!r} must be a non-empty string (e.g. 'storage')")
    return _CONSUMER_NAME.sub("_", durable)


def stream_targets(pattern: str) -> list[tuple[str, str]]:
    """The (stream, filter subject) pairs a subscription on `pattern` reads; [] when `pattern` is not
    within the data subjects (`dataprovider.stream.`), so it is a core subscription."""
    if not pattern.startswith(DATA_PREFIX):
        return []
    rest = pattern[len(DATA_PREFIX) :].split(".")
    kinds: tuple[str, ...]
    if rest == [">"]:
        provider, kinds, symbol = "*", KINDS, "*"
    elif len(rest) == 2 and rest[1] == ">":
        provider, kinds, symbol = rest[0], KINDS, "*"
    elif len(rest) == 3:
        provider, kind, symbol = rest
        symbol = "*" if symbol == ">" else symbol
        kinds = KINDS if kind == "*" else (kind,) if kind in KINDS else ()
    else:
        return []
    return [(stream_name(kind), f"{DATA_PREFIX}{provider}.{kind}.{symbol}") for kind in kinds]


def stream_configs() -> list[StreamConfig]:
    """The configuration of every data stream (module docstring)."""
    return [
        StreamConfig(
            name=stream_name(kind),
            description=f"tradebrain: every provider's {kind} messages",
            subjects=[f"{DATA_PREFIX}*.{kind}.*"],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            max_age=STREAM_MAX_AGE,
            max_bytes=STREAM_MAX_BYTES[kind],
            max_msg_size=-1,
            duplicate_window=DUPLICATE_WINDOW,
        )
        for kind in KINDS
    ]


_MANAGED_FIELDS = ("subjects", "retention", "discard", "storage", "max_age", "max_bytes", "duplicate_window")


def _header_text(text: str) -> str:
    """`text` fit for a header value: one line, bounded."""
    return " ".join(text.split())[:500]


class _QueuedSubscription:
    """A subscription fed through an asyncio queue; None in the queue marks it closed."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self.closed = False
        self.room = asyncio.Event()  # set when the queue can take another pull batch
        self.room.set()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            message = await self.queue.get()
            if message is None:
                self.queue.put_nowait(None)  # other readers stop too
                return
            self._taken()
            yield message

    async def next(self, timeout: float | None = None) -> Message:
        """The next message; BusError after `timeout` seconds without one, or once closed."""
        try:
            message = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            raise BusError(f"no message on {self.pattern!r} within {timeout} s") from None
        if message is None:
            self.queue.put_nowait(None)
            raise BusError(f"the subscription to {self.pattern!r} is closed")
        self._taken()
        return message

    def _taken(self) -> None:
        if self.queue.qsize() < PULL_BATCH:
            self.room.set()

    async def wait_for_room(self) -> None:
        """Return once the queue holds less than a pull batch (the subscriber's backpressure)."""
        while self.queue.qsize() >= PULL_BATCH and not self.closed:
            self.room.clear()
            await self.room.wait()

    def _finish(self) -> None:
        self.closed = True
        self.room.set()
        self.queue.put_nowait(None)


class _CoreSubscription(_QueuedSubscription):
    """A core NATS subscription: what is published while it is open, no persistence."""

    def __init__(self, bus: NatsBus, pattern: str) -> None:
        super().__init__(pattern)
        self.bus = bus
        self.sub: NatsSubscription | None = None

    async def start(self, nc: Client) -> None:
        self.sub = await nc.subscribe(self.pattern, cb=self._on_message, pending_bytes_limit=_SUB_PENDING_BYTES)

    async def _on_message(self, msg: Msg) -> None:
        self.queue.put_nowait(Message(msg.subject, msg.data, None, msg.reply or None))

    async def close(self) -> None:
        """Stop receiving; a reader waiting on `next` gets a BusError, an iteration ends."""
        if self.closed:
            return
        if self.sub is not None:
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()
        self.bus._forget(self)
        self._finish()


class _Pull:
    """One pull consumer on one stream, feeding its subscription's queue (module docstring)."""

    def __init__(self, owner: _JetStreamSubscription, stream: str, filter_subject: str) -> None:
        self.owner = owner
        self.stream = stream
        self.filter = filter_subject
        self.consumer = owner.durable or f"tb_{uuid.uuid4().hex}"
        self.api = f"{_JS_API}.CONSUMER.MSG.NEXT.{stream}.{self.consumer}"
        self.body = json.dumps({"batch": PULL_BATCH, "expires": int(PULL_EXPIRES * 1e9) - 100_000}).encode()
        self.inbox = ""
        self.sub: NatsSubscription | None = None
        self.task: asyncio.Task[None] | None = None
        self.token = 0  # the current pull request (the last token of its reply subject)
        self.received = 0  # messages since the current request went out
        self.answered = False  # anything came back for the current request
        self.status: tuple[str, str] | None = None  # (code, description) that ended the current request
        self.done = asyncio.Event()
        self.requests: dict[int, float] = {}  # requests the server may still answer: token -> when they expire
        self.changed = asyncio.Event()  # set when a request ends
        self.last_sequence = 0  # stream sequence of the last message received

    async def open(self, nc: Client) -> None:
        """Subscribe to the pull inbox and make sure the consumer exists."""
        self.inbox = nc.new_inbox()
        self.sub = await nc.subscribe(f"{self.inbox}.*", cb=self._on_message, pending_bytes_limit=_SUB_PENDING_BYTES)
        await self.ensure_consumer(recreate=False)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """Pull again now (after a reconnect: the last request died with the old connection)."""
        self.done.set()

    async def ensure_consumer(self, recreate: bool) -> None:
        """Create the consumer; a durable one that exists is bound to if it reads the same subjects.

        `recreate`: the consumer vanished under a running subscription; start after the last message
        received so nothing is delivered twice or skipped."""
        js = self.owner.bus._jetstream()
        durable = self.owner.durable
        if durable is not None and not recreate:
            try:
                info = await js.consumer_info(self.stream, durable)
            except nats.js.errors.NotFoundError:
                pass
            else:
                if info.config.filter_subject not in (None, self.filter):
                    raise BusError(
                        f"durable consumer {durable!r} on stream {self.stream} reads "
                        f"{info.config.filter_subject!r}, not {self.filter!r}: use another durable name, or delete it "
                        f"(`nats consumer rm {self.stream} {durable}`) to start over from the stream's first message"
                    )
                return
        start: dict[str, Any] = {}
        if recreate and self.last_sequence:
            start = {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": self.last_sequence + 1}
        if durable is not None:
            config = ConsumerConfig(
                name=durable, durable_name=durable, deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT, max_ack_pending=MAX_ACK_PENDING, filter_subject=self.filter,
                description="tradebrain durable subscription",
            )  # fmt: skip
        else:
            config = ConsumerConfig(
                name=self.consumer, deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.NONE,
                filter_subject=self.filter, inactive_threshold=EPHEMERAL_IDLE, mem_storage=True,
                description="tradebrain live subscription",
            )  # fmt: skip
        config = config.evolve(**start)
        try:
            await js.add_consumer(self.stream, config)
        except nats.js.errors.APIError as error:
            raise BusError(f"cannot create consumer {self.consumer!r} on stream {self.stream}: {error}") from None
        except (nats.errors.Error, TimeoutError) as error:
            raise BusError(f"cannot create consumer {self.consumer!r} on stream {self.stream}: {error!r}") from None

    async def _on_message(self, msg: Msg) -> None:
        reply = msg.reply
        if reply.startswith("$JS.ACK."):
            tokens = reply.split(".")
            base = 2 if len(tokens) == 9 else 4  # v1 ack subject, or v2 with domain and account hash
            sequence = int(tokens[base + 3])
            self.answered = True
            self.received += 1
            if self.received >= PULL_BATCH:
                self._ended(self.token)
                self.done.set()
            self.last_sequence = max(self.last_sequence, sequence)
            await self.owner.deliver(self.stream, sequence, msg)
            return
        headers = msg.headers or {}
        code = headers.get("Status", "")
        if code == "100":  # idle heartbeat
            self.answered = True
            return
        token = msg.subject.rsplit(".", 1)[-1]
        self._ended(int(token) if token.isdigit() else -1)
        if token != str(self.token):
            return  # the end of an earlier request
        self.answered = True
        self.status = (code, headers.get("Description", ""))
        self.done.set()

    def _ended(self, token: int) -> None:
        if self.requests.pop(token, None) is not None:
            self.changed.set()

    async def settle(self) -> None:
        """Return once no pull request of ours is open on the server (each ends within PULL_EXPIRES).

        Why: a nats-server before 2.10.14 that finds a given-back message for a request whose
        subscriber is gone drops it from its redelivery queue and rewinds the consumer (delivering
        one message twice, another only after ACK_WAIT), so `close` gives messages back only once
        every request it made is over; what those requests still bring is given back too."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for token in [token for token, expiry in self.requests.items() if expiry <= now]:
                del self.requests[token]
            if not self.requests:
                return
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(self.requests.values()) - now)

    async def _run(self) -> None:
        nc = self.owner.bus._client()
        while not self.owner.closed:
            await self.owner.wait_for_room()
            await self.owner.bus._online.wait()  # no requests piling up in the reconnect buffer
            if self.owner.closed:
                return
            self.token += 1
            self.received, self.answered, self.status = 0, False, None
            self.done.clear()
            try:
                await nc.publish(self.api, self.body, reply=f"{self.inbox}.{self.token}")
            except nats.errors.ConnectionClosedError:
                return
            except nats.errors.Error as error:  # the reconnect buffer is full: wait for the connection
                log.debug("pull request on %s/%s not sent: %r", self.stream, self.consumer, error)
                await asyncio.sleep(0.5)
                continue
            self.requests[self.token] = asyncio.get_running_loop().time() + PULL_EXPIRES + 0.5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), PULL_EXPIRES + 2.0)
            code = self.status[0] if self.status else ""
            if code in ("404", "408") or (self.answered and not code):
                continue  # the request ended normally (no more messages, expired, or filled)
            if self.done.is_set() and not self.answered:
                continue  # woken after a reconnect
            if code:
                log.warning("pull on %s/%s ended with %s %s", self.stream, self.consumer, *self.status or ("", ""))
                await asyncio.sleep(0.5)
            await self._check_consumer()

    async def _check_consumer(self) -> None:
        """No answer to a pull request: recreate the consumer if it is gone (module docstring)."""
        try:
            await self.owner.bus._jetstream().consumer_info(self.stream, self.consumer)
        except nats.js.errors.NotFoundError:
            log.warning(
                "consumer %s on %s is gone; recreating it from stream sequence %d",
                self.consumer, self.stream, self.last_sequence + 1,
            )  # fmt: skip
            try:
                await self.ensure_consumer(recreate=True)
            except BusError as error:
                log.warning("%s", error)
                await asyncio.sleep(1.0)
        except Exception as error:  # disconnected or the server is busy: the next pull retries
            log.debug("consumer info of %s/%s failed: %r", self.stream, self.consumer, error)
            await asyncio.sleep(0.5)

    async def stop(self, delete: bool) -> None:
        """Stop pulling. `delete`: remove the (ephemeral) consumer; otherwise wait until the open
        requests are over (`settle`) and take in what is on its way (a drain), so a durable
        subscription can give every message it got back."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if not delete and self.sub is not None and self.owner.bus.connected:
            await self.settle()
        if self.sub is not None:
            try:
                await asyncio.wait_for(self.sub.drain(), 2.0)  # type: ignore[no-untyped-call]
            except Exception:
                with contextlib.suppress(Exception):
                    await self.sub.unsubscribe()
        if delete:
            with contextlib.suppress(Exception):
                await self.owner.bus._jetstream().delete_consumer(self.stream, self.consumer)


class _JetStreamSubscription(_QueuedSubscription):
    """A subscription on data subjects: one pull consumer per stream the pattern covers."""

    def __init__(self, bus: NatsBus, pattern: str, durable: str | None, targets: list[tuple[str, str]]) -> None:
        super().__init__(pattern)
        self.bus = bus
        self.durable = durable
        self.unacked: dict[tuple[str, int], str] = {}  # (stream, sequence) -> ack subject, durable only
        self.acked: set[tuple[str, int]] = set()  # the last ACKED_REMEMBERED acknowledged (`deliver`)
        self.acked_order: deque[tuple[str, int]] = deque()
        self.pulls = [_Pull(self, stream, filter_subject) for stream, filter_subject in targets]

    async def start(self, nc: Client) -> None:
        try:
            for pull in self.pulls:
                await pull.open(nc)
        except BaseException:
            await self.close()
            raise
        for pull in self.pulls:
            pull.start()

    def wake(self) -> None:
        for pull in self.pulls:
            pull.wake()

    async def deliver(self, stream: str, sequence: int, msg: Msg) -> None:
        """Queue a message from the stream; on a durable subscription with its acknowledgement.

        A durable subscription hands each stream message out once: a redelivery of one the
        subscriber still holds (ACK_WAIT passed) is dropped, and one it acknowledged recently (the
        acknowledgement was lost with a connection) is acknowledged again and dropped."""
        msg_id = msg.headers.get(MSG_ID_HEADER) if msg.headers else None
        if self.durable is None:
            if not self.closed:
                self.queue.put_nowait(Message(msg.subject, msg.data, msg_id))
            return
        key = (stream, sequence)
        if key in self.acked:
            with contextlib.suppress(BusError):
                await self.bus._send(msg.reply, b"+ACK")
            return
        redelivered = key in self.unacked
        self.unacked[key] = msg.reply  # while closing too: `close` gives it back
        if redelivered or self.closed:
            return

        async def ack() -> None:
            reply = self.unacked.pop(key, None)
            if reply is not None:
                self.acked.add(key)
                self.acked_order.append(key)
                if len(self.acked_order) > ACKED_REMEMBERED:
                    self.acked.discard(self.acked_order.popleft())
                await self.bus._send(reply, b"+ACK")

        self.queue.put_nowait(Message(msg.subject, msg.data, msg_id, None, ack))

    async def close(self) -> None:
        """Stop; a durable subscription gives back what it did not acknowledge (module docstring),
        an ephemeral one deletes its consumers."""
        if self.closed:
            return
        self.closed = True
        self.room.set()
        await asyncio.gather(*(pull.stop(delete=self.durable is None) for pull in self.pulls))
        if self.unacked:
            await self._give_back()
        self.bus._forget(self)
        self._finish()

    async def _give_back(self) -> None:
        """Nak every unacknowledged message, oldest first, so the consumer redelivers them next; the
        last one per stream waits for the server, so they are all processed when this returns."""
        nc = self.bus._nc
        if nc is None or not nc.is_connected:
            return  # the server redelivers them after ACK_WAIT
        pending = sorted(self.unacked.items())
        self.unacked.clear()
        last = {stream: reply for (stream, _), reply in pending}
        try:
            for (stream, _), reply in pending:
                if reply is last[stream]:
                    await nc.request(reply, b"-NAK", timeout=2.0)
                else:
                    await nc.publish(reply, b"-NAK")
        except Exception as error:  # they come back after ACK_WAIT instead
            log.debug("giving back unacknowledged messages failed: %r", error)


class _PublishBatch:
    """The acknowledgements one `publish_many` call waits for."""

    def __init__(self, window: int) -> None:
        self.low = window // 2
        self.outstanding = 0
        self.failed = 0
        self.errors: list[str] = []
        self.room = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()

    def acknowledged(self, error: str | None) -> None:
        self.outstanding -= 1
        if error is not None:
            self.failed += 1
            if len(self.errors) < 3:
                self.errors.append(error)
        if self.outstanding <= self.low:
            self.room.set()
        if self.outstanding == 0:
            self.idle.set()


class NatsBus:
    """The bus over a NATS server with JetStream (module docstring).

    `url`: the server (nats://host:port); `reconnect_wait`: seconds between reconnect attempts (it
    reconnects forever); `connect_timeout`: seconds to reach the server at `connect()`;
    `ack_timeout`: seconds to wait for JetStream's acknowledgements; `publish_window`: messages
    `publish_many` sends ahead of their acknowledgements; `queue_group`: the group `serve` joins.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        name: str = "tradebrain",
        reconnect_wait: float = 0.5,
        connect_timeout: float = 5.0,
        ack_timeout: float = 10.0,
        publish_window: int = 4096,
        queue_group: str = "tradebrain",
    ) -> None:
        if publish_window < 1:
            raise BusError(f"publish_window must be at least 1 (got {publish_window})")
        self.url = url
        self.name = name
        self.reconnect_wait = reconnect_wait
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.publish_window = publish_window
        self.queue_group = queue_group
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connecting = False
        self._last_error: BaseException | None = None
        self._subscriptions: set[_CoreSubscription | _JetStreamSubscription] = set()
        self._services: list[NatsSubscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._ack_prefix = ""
        self._ack_sub: NatsSubscription | None = None
        self._acks: dict[str, _PublishBatch] = {}
        self._tokens = itertools.count()
        self._ack_lock = asyncio.Lock()
        self._online = asyncio.Event()  # set while connected

    # -- connection ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the client is connected right now (False while it reconnects)."""
        return self._nc is not None and self._nc.is_connected

    @property
    def max_payload(self) -> int:
        """The largest message the server accepts, in bytes (its INFO; 1 MiB by default)."""
        return int(self._client().max_payload)

    async def connect(self) -> None:
        """Connect (reconnecting forever after that) and make sure the data streams exist."""
        if self._nc is not None and not self._nc.is_closed:
            return
        self._connecting, self._last_error = True, None
        try:
            nc = await nats.connect(
                self.url,
                name=self.name,
                allow_reconnect=True,
                max_reconnect_attempts=1,  # at connect; forever once connected (below)
                reconnect_time_wait=self.reconnect_wait,
                connect_timeout=self.connect_timeout,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        except Exception as error:
            cause = self._last_error or error
            raise BusError(
                f"cannot reach NATS at {self.url} ({cause!r}); start a server with JetStream (`nats-server -js`) "
                "or leave out the NATS URL to use the in-process bus"
            ) from None
        finally:
            self._connecting = False
        nc.options["max_reconnect_attempts"] = -1
        self._nc = nc
        self._online.set()
        self._js = nc.jetstream(timeout=self.ack_timeout)
        try:
            await self._ensure_streams()
        except BaseException:
            await self.close()
            raise

    async def _ensure_streams(self) -> None:
        js = self._jetstream()
        for config in stream_configs():
            try:
                await js.add_stream(config)
                continue
            except nats.js.errors.BadRequestError as error:
                if error.err_code != 10058:  # "stream name already in use with a different configuration"
                    raise BusError(f"cannot create JetStream stream {config.name}: {error}") from None
            except (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError):
                raise BusError(
                    f"the NATS server at {self.url} has no JetStream; start it with JetStream on (`nats-server -js`)"
                ) from None
            except (nats.js.errors.APIError, nats.errors.Error, TimeoutError) as error:
                raise BusError(f"cannot create JetStream stream {config.name}: {error!r}") from None
            await self._update_stream(js, config)

    async def _update_stream(self, js: JetStreamContext, config: StreamConfig) -> None:
        info = await js.stream_info(str(config.name))
        wanted = {field: getattr(config, field) for field in _MANAGED_FIELDS}
        found = {field: getattr(info.config, field) for field in _MANAGED_FIELDS}
        changed = {field: (found[field], value) for field, value in wanted.items() if found[field] != value}
        if changed:
            log.warning("updating JetStream stream %s to the bus's settings (was, now): %s", config.name, changed)
        try:
            await js.update_stream(info.config.evolve(**wanted))
        except nats.js.errors.APIError as error:
            raise BusError(
                f"JetStream stream {config.name} exists with settings the bus cannot change in place ({changed}): "
                f"{error}. Recreate it with `nats stream rm {config.name}` (its stored messages are lost) and connect "
                "again"
            ) from None

    async def close(self) -> None:
        """Close every subscription (durable ones give back what they did not acknowledge), stop the
        request handlers and disconnect."""
        nc = self._nc
        if nc is None:
            return
        for subscription in list(self._subscriptions):
            with contextlib.suppress(Exception):
                await subscription.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.flush(), 2.0)
        with contextlib.suppress(Exception):
            await nc.close()
        self._nc = None
        self._js = None
        self._online.clear()
        self._services.clear()
        self._ack_sub, self._ack_prefix = None, ""
        self._acks.clear()

    def _client(self) -> Client:
        if self._nc is None or self._nc.is_closed:
            raise BusError("the bus is not connected; call `await bus.connect()` first")
        return self._nc

    def _jetstream(self) -> JetStreamContext:
        self._client()
        assert self._js is not None
        return self._js

    def _forget(self, subscription: _CoreSubscription | _JetStreamSubscription) -> None:
        self._subscriptions.discard(subscription)

    async def _send(self, subject: str, data: bytes) -> None:
        try:
            await self._client().publish(subject, data)
        except nats.errors.Error as error:
            raise BusError(f"cannot publish on {subject!r}: {error!r}") from None

    async def _on_error(self, error: Exception) -> None:
        self._last_error = error
        if self._connecting:
            log.debug("NATS connect to %s: %r", self.url, error)
        else:
            log.warning("NATS (%s): %r", self.url, error)

    async def _on_disconnected(self) -> None:
        self._online.clear()
        if not self._connecting and self._nc is not None and not self._nc.is_closed:
            log.warning("lost the connection to NATS at %s; reconnecting every %s s", self.url, self.reconnect_wait)

    async def _on_reconnected(self) -> None:
        log.warning("reconnected to NATS at %s", self.url)
        self._online.set()
        for subscription in list(self._subscriptions):
            if isinstance(subscription, _JetStreamSubscription):
                subscription.wake()

    # -- publishing ----------------------------------------------------------------------------

    async def publish(self, subject: str, data: bytes, msg_id: str | None = None) -> None:
        """Publish one message; a data message is stored (or found a duplicate of `msg_id`) when this
        returns. Many messages: `publish_many` (module docstring)."""
        await self.publish_many(((subject, data, msg_id),))

    async def publish_many(self, messages: Iterable[tuple[str, bytes, str | None]]) -> None:
        """Publish (subject, data, msg_id) messages in order, up to `publish_window` data messages ahead
        of JetStream's acknowledgements; every data message is stored (or a dropped duplicate) when this
        returns. BusError when JetStream refuses some or does not answer within `ack_timeout`."""
        nc = self._client()
        if self._ack_sub is None:
            async with self._ack_lock:
                if self._ack_sub is None:
                    prefix = nc.new_inbox()
                    self._ack_sub = await nc.subscribe(f"{prefix}.*", cb=self._on_publish_ack)
                    self._ack_prefix = prefix
        batch = _PublishBatch(self.publish_window)
        count = 0
        try:
            for subject, data, msg_id in messages:
                if not is_data_subject(subject):
                    await nc.publish(subject, data)
                    continue
                if batch.outstanding >= self.publish_window:
                    batch.room.clear()
                    await asyncio.wait_for(batch.room.wait(), self.ack_timeout)
                token = str(next(self._tokens))
                self._acks[token] = batch
                batch.outstanding += 1
                batch.idle.clear()
                count += 1
                headers = {MSG_ID_HEADER: msg_id} if msg_id else None
                await nc.publish(subject, data, reply=f"{self._ack_prefix}.{token}", headers=headers)
            if batch.outstanding:
                await asyncio.wait_for(batch.idle.wait(), self.ack_timeout)
        except TimeoutError:
            raise BusError(
                f"JetStream did not acknowledge {batch.outstanding} of {count} messages within {self.ack_timeout} s; "
                "some may be stored and some not: publish them again (their ids make repeats harmless)"
            ) from None
        except nats.errors.MaxPayloadError:
            raise BusError(f"a message exceeds the server's max_payload of {nc.max_payload} bytes") from None
        except nats.errors.Error as error:
            raise BusError(f"cannot publish to NATS at {self.url}: {error!r}") from None
        finally:
            if batch.outstanding:
                for token in [token for token, owner in self._acks.items() if owner is batch]:
                    del self._acks[token]
        if batch.failed:
            raise BusError(f"JetStream refused {batch.failed} of {count} messages: {'; '.join(batch.errors)}")

    async def _on_publish_ack(self, msg: Msg) -> None:
        batch = self._acks.pop(msg.subject[len(self._ack_prefix) + 1 :], None)
        if batch is None:
            return
        data = msg.data
        if data and b'"error"' not in data:
            batch.acknowledged(None)
            return
        if not data:
            status = (msg.headers or {}).get("Status", "?")
            batch.acknowledged(f"no stream answered (status {status}); were the streams deleted?")
            return
        try:
            error = json.loads(data)["error"]
            batch.acknowledged(f"{error.get('description', error)} (code {error.get('err_code', '?')})")
        except (ValueError, KeyError, TypeError, AttributeError):
            batch.acknowledged(data[:200].decode(errors="replace"))

    # -- subscribing ---------------------------------------------------------------------------

    async def subscribe(self, pattern: str, durable: str | None = None) -> Subscription:
        """Messages on subjects matching `pattern` (module docstring). `durable` names a durable
        consumer on data subjects (sanitised by `consumer_name`); it is ignored on other subjects."""
        nc = self._client()
        targets = stream_targets(pattern)
        subscription: _CoreSubscription | _JetStreamSubscription
        if targets:
            subscription = _JetStreamSubscription(
                self, pattern, None if durable is None else consumer_name(durable), targets
            )
        else:
            subscription = _CoreSubscription(self, pattern)
        self._subscriptions.add(subscription)
        try:
            await subscription.start(nc)
        except nats.errors.Error as error:
            self._forget(subscription)
            raise BusError(f"cannot subscribe to {pattern!r}: {error!r}") from None
        except BaseException:
            self._forget(subscription)
            raise
        return subscription

    # -- request/reply -------------------------------------------------------------------------

    async def serve(self, subject: str, handler: Handler) -> None:
        """Answer requests on `subject` with `handler`'s chunks, each request in its own task, in the
        queue group `queue_group` (module docstring)."""
        nc = self._client()

        async def on_request(msg: Msg) -> None:
            if not msg.reply:
                log.warning("a request on %s has no reply subject; ignored", msg.subject)
                return
            task = asyncio.get_running_loop().create_task(self._respond(handler, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            self._services.append(await nc.subscribe(subject, queue=self.queue_group, cb=on_request))
        except nats.errors.Error as error:
            raise BusError(f"cannot serve {subject!r}: {error!r}") from None

    async def _respond(self, handler: Handler, msg: Msg) -> None:
        nc = self._nc
        if nc is None:
            return
        try:
            async for chunk in handler(Message(msg.subject, msg.data, None, msg.reply)):
                if len(chunk) > nc.max_payload:
                    raise BusError(
                        f"a reply chunk of {len(chunk)} bytes exceeds the server's max_payload of {nc.max_payload}; "
                        "send smaller chunks (NatsBus.max_payload)"
                    )
                await nc.publish(msg.reply, chunk)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("the handler of %s failed", msg.subject)
            with contextlib.suppress(Exception):
                headers = {REPLY_HEADER: "error", ERROR_HEADER: _header_text(f"{type(error).__name__}: {error}")}
                await nc.publish(msg.reply, b"", headers=headers)
            return
        with contextlib.suppress(Exception):
            await nc.publish(msg.reply, b"", headers={REPLY_HEADER: "end"})

    def request(self, subject: str, data: bytes, timeout: float = 10.0) -> AsyncIterator[bytes]:
        """The chunks of the reply to a request on `subject`; BusError when nobody serves `subject`, the
        responder fails, or no chunk comes within `timeout` seconds."""
        return self._request(subject, data, timeout)

    async def _request(self, subject: str, data: bytes, timeout: float) -> AsyncIterator[bytes]:
        nc = self._client()
        inbox = nc.new_inbox()
        try:
            sub = await nc.subscribe(inbox, pending_bytes_limit=_SUB_PENDING_BYTES)
            await nc.publish(subject, data, reply=inbox)
        except nats.errors.MaxPayloadError:
            raise BusError(f"the request on {subject!r} exceeds the server's max_payload") from None
        except nats.errors.Error as error:
            raise BusError(f"cannot send a request on {subject!r}: {error!r}") from None
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=timeout)
                except nats.errors.TimeoutError:
                    raise BusError(f"no reply on {subject!r} within {timeout} s") from None
                except nats.errors.Error as error:
                    raise BusError(f"the request on {subject!r} failed: {error!r}") from None
                headers = msg.headers or {}
                if headers.get("Status") == "503":
                    raise BusError(f"no responder on {subject!r}; is the platform up (`tradebrain platform up`)?")
                kind = headers.get(REPLY_HEADER)
                if kind == "end":
                    return
                if kind == "error":
                    raise BusError(f"the responder on {subject!r} failed: {headers.get(ERROR_HEADER, '?')}")
                yield msg.data
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

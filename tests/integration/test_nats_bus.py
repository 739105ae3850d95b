"""The NATS bus against a real server: the shared bus contract (tests/unit/platform/bus_cases.py),
deduplication across connections, a durable consumer that outlives a dropped connection, and the
stream setup. Every test uses its own provider name, so runs never see each other's data on the
shared BARS/NEWS streams; each deletes the consumers it made and purges its provider's subjects."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse

import nats
import pytest
from nats.js.api import StorageType, StreamConfig
from tests.unit.platform.bus_cases import CASES

from tradebrain.platform import nats_bus
from tradebrain.platform.bus import Bus, BusError, Message, Subscription
from tradebrain.platform.nats_bus import NatsBus, consumer_name
from tradebrain.platform.subjects import BAR_STREAM, KINDS, stream_filter, stream_name, stream_subject

pytestmark = pytest.mark.integration


def _provider() -> str:
    return f"it-{uuid.uuid4().hex[:12]}"


async def _clean(url: str, provider: str) -> None:
    """Delete the consumers named after `provider` and purge its subjects (never the streams)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        for kind in KINDS:
            stream = stream_name(kind)
            for info in await js.consumers_info(stream):
                if info.name.startswith(consumer_name(provider)):
                    await js.delete_consumer(stream, info.name)
            await js.purge_stream(stream, subject=f"dataprovider.stream.{provider}.>")
    finally:
        await nc.close()


def _run(url: str, provider: str, body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            await body()
        finally:
            await _clean(url, provider)

    asyncio.run(main())


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_the_nats_bus_keeps_the_contract(nats_url: str, case: Callable[[Bus, str], Awaitable[None]]) -> None:
    provider = _provider()

    async def body() -> None:
        bus = NatsBus(nats_url)
        await bus.connect()
        try:
            await case(bus, provider)
        finally:
            await bus.close()

    _run(nats_url, provider, body)


def test_a_message_id_published_on_two_connections_is_stored_once(nats_url: str) -> None:
    provider = _provider()
    subject = stream_subject(provider, "bar", "AAA")

    async def body() -> None:
        one, two = NatsBus(nats_url), NatsBus(nats_url)
        await one.connect()
        await two.connect()
        try:
            subscription = await one.subscribe(stream_filter("bar", provider))
            await one.publish(subject, b"first", f"{provider}:AAA:1")
            await two.publish(subject, b"again", f"{provider}:AAA:1")
            await two.publish_many(
                [(subject, b"again", f"{provider}:AAA:1"), (subject, b"second", f"{provider}:AAA:2")]
            )
            assert [(await subscription.next(5.0)).data for _ in range(2)] == [b"first", b"second"]
            with pytest.raises(BusError, match="no message"):
                await subscription.next(0.3)
            info = await two._jetstream().stream_info(BAR_STREAM, subjects_filter=subject)
            assert info.state.subjects == {subject: 2}
        finally:
            await one.close()
            await two.close()

    _run(nats_url, provider, body)


def test_publish_many_stores_a_large_batch_in_order(nats_url: str) -> None:
    provider = _provider()
    count = 20_000

    async def body() -> None:
        bus = NatsBus(nats_url, publish_window=1000)
        await bus.connect()
        try:
            subjects = [stream_subject(provider, "bar", symbol) for symbol in ("AAA", "BB.B", "CCC")]
            messages = [(subjects[i % 3], i.to_bytes(4, "big") + bytes(116), f"{provider}:{i}") for i in range(count)]
            started = time.perf_counter()
            await bus.publish_many(messages)
            rate = count / (time.perf_counter() - started)
            print(f"publish_many: {rate:,.0f} messages/s of 120 bytes")
            subscription = await bus.subscribe(stream_filter("bar", provider), durable=f"{provider}-all")
            got = []
            for _ in range(count):
                message = await subscription.next(10.0)
                got.append(int.from_bytes(message.data[:4], "big"))
                await message.ack()
            assert got == list(range(count))
            assert message.msg_id == f"{provider}:{count - 1}"
            await subscription.close()
        finally:
            await bus.close()

    _run(nats_url, provider, body)


class _Proxy:
    """A TCP proxy in front of the NATS server that the test cuts and restores: the client behind it
    sees its connection drop mid-stream, as on a network failure."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 4222)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        for task in (asyncio.ensure_future(pipe(reader, up_writer)), asyncio.ensure_future(pipe(up_reader, writer))):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def cut(self) -> None:
        """Stop accepting and drop every open connection (a reset, no goodbye)."""
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        for task in list(self.tasks):
            task.cancel()
        await self.server.wait_closed()

    async def restore(self) -> None:
        await self.start()


def test_a_durable_consumer_gets_every_message_once_in_order_across_a_dropped_connection(nats_url: str) -> None:
    provider = _provider()
    subject, pattern = stream_subject(provider, "bar", "AAA"), stream_filter("bar", provider)
    durable = f"{provider}-store"
    before, during = 300, 300

    def batch(start: int, stop: int) -> list[tuple[str, bytes, str | None]]:
        return [(subject, i.to_bytes(4, "big"), f"{provider}:{i}") for i in range(start, stop)]

    async def take(subscription: Subscription, got: list[int], count: int) -> None:
        for _ in range(count):
            message = await subscription.next(15.0)
            got.append(int.from_bytes(message.data, "big"))
            await message.ack()

    async def body() -> None:
        proxy = _Proxy(nats_url)
        await proxy.start()
        consumer = NatsBus(proxy.url, reconnect_wait=0.2)
        publisher = NatsBus(nats_url)
        await consumer.connect()
        await publisher.connect()
        try:
            await publisher.publish_many(batch(0, before))
            subscription = await consumer.subscribe(pattern, durable=durable)
            got: list[int] = []
            await take(subscription, got, 100)
            await asyncio.sleep(0.3)  # the rest of the first pull reaches the client
            await proxy.cut()
            await asyncio.sleep(0.3)
            assert not consumer.connected
            await take(subscription, got, 100)  # what the client holds, acknowledged while disconnected
            await publisher.publish_many(batch(before, before + during))
            await asyncio.sleep(0.5)
            await proxy.restore()
            await take(subscription, got, before + during - len(got))
            assert got == list(range(before + during))
            with pytest.raises(BusError, match="no message"):
                await subscription.next(1.0)
            assert consumer.connected
            js = publisher._jetstream()
            for _ in range(50):  # the acknowledgements sent after the reconnect land
                info = await js.consumer_info(BAR_STREAM, durable)
                if info.num_ack_pending == 0:
                    break
                await asyncio.sleep(0.1)
            assert (info.num_pending, info.num_ack_pending) == (0, 0)
            await subscription.close()
        finally:
            await consumer.close()
            await publisher.close()
            await proxy.cut()

    _run(nats_url, provider, body)


def test_payloads_travel_as_bytes_whatever_they_hold(nats_url: str) -> None:
    provider = _provider()
    subject = stream_subject(provider, "news", "AAA")

    async def body() -> None:
        bus = NatsBus(nats_url)
        await bus.connect()
        try:
            subscription = await bus.subscribe(stream_filter("news", provider))
            for payload in (b"\xff\x00 not msgpack", b""):
                await bus.publish(subject, payload)
                message = await subscription.next(5.0)
                assert (message.subject, message.data, message.msg_id) == (subject, payload, None)
        finally:
            await bus.close()

    _run(nats_url, provider, body)


def test_a_pattern_over_both_kinds_reads_both_streams(nats_url: str) -> None:
    provider = _provider()

    async def body() -> None:
        bus = NatsBus(nats_url)
        await bus.connect()
        try:
            subscription = await bus.subscribe(f"dataprovider.stream.{provider}.>")
            await bus.publish(stream_subject(provider, "bar", "AAA"), b"bar", f"{provider}:1")
            await bus.publish(stream_subject(provider, "news", "AAA"), b"news", f"{provider}:2")
            assert sorted([(await subscription.next(5.0)).data for _ in range(2)]) == [b"bar", b"news"]
        finally:
            await bus.close()

    _run(nats_url, provider, body)


def test_a_failing_handler_is_reported_to_the_requester(nats_url: str) -> None:
    provider = _provider()

    async def failing(message: Message):  # type: ignore[no-untyped-def]
        yield b"one"
        raise RuntimeError("the store is gone")

    async def body() -> None:
        bus = NatsBus(nats_url)
        await bus.connect()
        try:
            await bus.serve(f"test.{provider}.fail", failing)
            chunks = []
            with pytest.raises(BusError, match="failed: RuntimeError: the store is gone"):
                async for chunk in bus.request(f"test.{provider}.fail", b"", timeout=5.0):
                    chunks.append(chunk)
            assert chunks == [b"one"]
            with pytest.raises(BusError, match="max_payload"):
                await bus.publish(stream_subject(provider, "bar", "AAA"), bytes(bus.max_payload + 1))
        finally:
            await bus.close()

    _run(nats_url, provider, body)


def test_connecting_creates_or_updates_the_streams(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On throwaway streams (the real ones are shared): created, found unchanged, updated when their
    limits differ, and a clear error when a setting cannot change in place."""
    name = f"TBTEST_{uuid.uuid4().hex[:10]}"
    config = StreamConfig(
        name=name,
        subjects=[f"tbtest.{name}.*"],
        storage=StorageType.FILE,
        duplicate_window=600.0,
        max_bytes=10 * 1024**2,
    )
    monkeypatch.setattr(nats_bus, "stream_configs", lambda: [config])

    async def main() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            for _ in range(2):  # created, then found as it is
                bus = NatsBus(nats_url)
                await bus.connect()
                await bus.close()
            await js.update_stream(config.evolve(duplicate_window=30.0, max_bytes=1024**2))
            bus = NatsBus(nats_url)
            await bus.connect()
            await bus.close()
            found = (await js.stream_info(name)).config
            assert (found.duplicate_window, found.max_bytes) == (600.0, 10 * 1024**2)
            monkeypatch.setattr(nats_bus, "stream_configs", lambda: [config.evolve(storage=StorageType.MEMORY)])
            with pytest.raises(BusError, match=f"nats stream rm {name}"):
                await NatsBus(nats_url).connect()
        finally:
            with contextlib.suppress(Exception):
                await js.delete_stream(name)
            await nc.close()

    asyncio.run(main())


def test_an_unreachable_server_is_a_clear_error() -> None:
    async def main() -> None:
        with pytest.raises(BusError, match=r"cannot reach NATS at nats://127.0.0.1:1 .*nats-server -js"):
            await NatsBus("nats://127.0.0.1:1", reconnect_wait=0.05, connect_timeout=1.0).connect()

    asyncio.run(main())
